/**
 * `spacephone lab` for humans: runs the lab until SIGINT/SIGTERM, prints how to
 * point a softphone at it, and returns the process exit code (never throws).
 * The CLI should call `runLabCli({ dir })`; `runLab()` is for tests and tools.
 */
import { LabNodeStartError } from './errors.ts';
import { runLab, type RunLabOptions } from './lab.ts';
import { LAB_DOMAIN, LAB_NODES } from './topology.ts';
import { errorCode } from '../util/errors.ts';

export function instructions(dashboardUrl: string, dns: { address: string; port: number } | undefined): string {
  const nl = LAB_NODES[0];
  return [
    '',
    `Dashboard and control API: ${dashboardUrl}`,
    '',
    'Register a softphone (Linphone, baresip, Zoiper ...):',
    `  domain / registrar   ${LAB_DOMAIN}`,
    dns ? `  DNS server           ${dns.address} port ${dns.port} (SRV _sip._udp/_sip._tcp/_sips._tcp → nl, then de)` : '  (no lab DNS server running)',
    `  or outbound proxy    sip:${nl.address}:${nl.sipPort} (NL; DE is 127.0.0.12, SpaceNode 127.0.0.13)`,
    '  user / password      2001 / lab-2001   (also 2002–2004 with lab-<number>)',
    `  internal (SpaceNode) 100–104 @ space.${LAB_DOMAIN}, password lab-<number>`,
    '  try calling          another extension (e.g. 2001 → 2002 on the same node)',
    `  TLS                  port 5061, self-signed certificate in .lab/tls/lab-cert.pem`,
    '',
    'Ctrl-C stops the lab.',
  ].join('\n');
}

export async function runLabCli(opts: RunLabOptions = {}): Promise<number> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) return;
    console.log(`lab: ${sig}, stopping ...`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const lab = await runLab({ ...opts, signal: ac.signal });
    console.log(instructions(lab.dashboardUrl, lab.dns));
    await lab.stopped;
    console.log('lab: stopped');
    return 0;
  } catch (err) {
    if (ac.signal.aborted) return 0;
    console.error(`lab: failed to start [${errorCode(err)}]: ${err instanceof Error ? err.message : String(err)}`);
    if (err instanceof LabNodeStartError && err.outputTail.length > 0) {
      console.error(`--- last output of node ${err.node} ---\n${err.outputTail.join('\n')}`);
    }
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
