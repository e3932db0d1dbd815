/**
 * Starts a real dnsmasq (Debian dnsmasq-base) in the foreground on 127.0.0.99 and
 * a random high port, authoritative for example.test, serving the given records.
 * Tests kill it in `after`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { userInfo } from 'node:os';
import { DnsClient } from '../../../src/sip/resolver/dns-client.ts';
import { SystemClock } from '../../../src/sip/clock.ts';

export const DNSMASQ_ADDRESS = '127.0.0.99';

export interface Dnsmasq {
  address: string;
  port: number;
  stop(): Promise<void>;
}

export async function startDnsmasq(records: string[]): Promise<Dnsmasq> {
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const child = spawn(
      'dnsmasq',
      [
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--no-resolv',
        '--no-hosts',
        '--no-poll',
        '--bind-interfaces',
        `--listen-address=${DNSMASQ_ADDRESS}`,
        `--port=${port}`,
        '--pid-file',
        `--user=${userInfo().username}`,
        '--local=/example.test/',
        '--local-ttl=60',
        '--log-facility=-',
        ...records,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (await ready(child, port)) {
      return {
        address: DNSMASQ_ADDRESS,
        port,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    lastErr = stderr;
  }
  throw new Error(`dnsmasq did not start: ${lastErr}`);
}

async function ready(child: ChildProcess, port: number): Promise<boolean> {
  const dns = new DnsClient({ server: { address: DNSMASQ_ADDRESS, port }, clock: new SystemClock(), timeoutMs: 100, attempts: 1, maxEntries: 0 });
  try {
    for (let i = 0; i < 50; i++) {
      if (child.exitCode !== null) return false;
      try {
        await dns.queryA('probe.example.test');
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return false;
  } finally {
    dns.close();
  }
}
