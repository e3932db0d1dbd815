/**
 * Proof with a real peer (issue: SIP protocol core): a UAS built from our layers
 * answers SIPp's built-in `uac` scenario, and a UAC built from them drives SIPp's
 * `uas`, over UDP and TCP. SIPp is the Debian `sip-tester` package.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SystemClock } from '../../src/sip/clock.ts';
import { SipTransport } from '../../src/sip/transport/index.ts';
import { TransactionLayer } from '../../src/sip/transaction/layer.ts';
import { parseUri } from '../../src/sip/message/parser.ts';
import { SimpleUas } from '../../src/sip/ua/simple-uas.ts';
import { SimpleUac } from '../../src/sip/ua/simple-uac.ts';
import { runSipp, startSipp, stopSipp, requireTool } from '../support/tools.ts';

const UAS_IP = '127.0.0.31';
const SIPP_IP = '127.0.0.32';
const UAS_PORT = 15060;
const SDP = (ip: string): string => `v=0\r\no=- 1 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio 16000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;

describe('SIP core against SIPp (sip-tester)', { timeout: 120_000 }, () => {
  const clock = new SystemClock();
  let transport: SipTransport;
  let uas: SimpleUas;

  before(async () => {
    requireTool('sipp');
    transport = new SipTransport({ listen: [{ transport: 'udp', address: UAS_IP, port: UAS_PORT }, { transport: 'tcp', address: UAS_IP, port: UAS_PORT }], clock });
    await transport.start();
    const layer = new TransactionLayer(transport, { clock });
    uas = new SimpleUas({ layer, clock, contact: parseUri(`sip:uas@${UAS_IP}:${UAS_PORT}`), sdp: () => SDP(UAS_IP) });
  });
  after(async () => {
    uas?.close();
    await transport?.close();
  });

  for (const [mode, flag, port] of [['UDP', 'u1', 15062], ['TCP', 't1', 15064]] as const) {
    it(`MUST answer SIPp's built-in uac scenario over ${mode} with every call succeeding`, async () => {
      const before = uas.stats.byes;
      const run = await runSipp({
        args: ['-sn', 'uac', `${UAS_IP}:${UAS_PORT}`, '-i', SIPP_IP, '-p', String(port), '-t', flag, '-m', '50', '-r', '50', '-l', '50', '-d', '100', '-nostdin', '-timeout', '30s', '-timeout_error'],
        timeoutMs: 40_000,
      });
      assert.equal(run.code, 0, `sipp exit ${run.code}: ${run.stderr.slice(-500)}`);
      assert.equal(uas.stats.byes - before, 50, 'every call ended with a BYE answered by us');
    });
  }

  for (const [mode, transportName, port] of [['UDP', 'udp', 15066], ['TCP', 'tcp', 15068]] as const) {
    it(`MUST drive SIPp's built-in uas scenario over ${mode} with every call succeeding`, async () => {
      requireTool('sipp');
      const sipp = startSipp(['-sn', 'uas', '-i', SIPP_IP, '-p', String(port), '-t', transportName === 'udp' ? 'u1' : 't1']);
      try {
        await new Promise((r) => setTimeout(r, 300)); // let SIPp bind
        const uacTransport = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.33', port: 0 }, { transport: 'tcp', address: '127.0.0.33', port: 0 }], clock });
        await uacTransport.start();
        const layer = new TransactionLayer(uacTransport, { clock });
        const uac = new SimpleUac({
          layer,
          clock,
          target: { transport: transportName, address: SIPP_IP, port },
          uri: parseUri(`sip:service@${SIPP_IP}:${port}`),
          from: parseUri('sip:uac@127.0.0.33'),
          contact: parseUri(`sip:uac@127.0.0.33:${uacTransport.localEndpoint(transportName)?.port}${transportName === 'tcp' ? ';transport=tcp' : ''}`),
          sdp: SDP('127.0.0.33'),
          holdMs: 50,
        });
        const result = await uac.run(50, 50);
        layer.close();
        await uacTransport.close();
        assert.deepEqual(result.failures, {});
        assert.equal(result.succeeded, 50);
      } finally {
        await stopSipp(sipp);
      }
    });
  }
});
