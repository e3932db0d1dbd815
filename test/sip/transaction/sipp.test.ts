/**
 * Interop with SIPp (a peer we did not write), over UDP on loopback: its built-in
 * `uac` scenario calls our transaction layer + dialog as UAS, and its built-in
 * `uas` scenario answers our UAC. SIPp exit code 0 = the call succeeded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SystemClock } from '../../../src/sip/clock.ts';
import { Dialog } from '../../../src/sip/dialog/dialog.ts';
import { Uas2xxRetransmitter } from '../../../src/sip/dialog/uas-2xx-retransmit.ts';
import { createRequest, createResponse } from '../../../src/sip/message/build.ts';
import type { Endpoint, SipResponse, Uri } from '../../../src/sip/message/types.ts';
import { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import { SipTransport } from '../../../src/sip/transport/transport.ts';
import { runSipp, startSipp, stopSipp } from '../../support/tools.ts';

function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

async function ourNode() {
  const t = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
  await t.start();
  const end = t.localEndpoint('udp')!;
  const layer = new TransactionLayer(t, { clock: new SystemClock() });
  const contact: Uri = { scheme: 'sip', user: 'us', host: end.address, port: end.port, params: new Map(), headers: new Map() };
  return { t, layer, end, contact };
}

describe('interop with SIPp over UDP', () => {
  it('MUST complete SIPp\'s uac call (INVITE/180/200/ACK/BYE/200) as UAS', async () => {
    const us = await ourNode();
    const dialogs = new Map<string, { d: Dialog; rtx: Uas2xxRetransmitter }>();
    const seen: string[] = [];
    us.layer.onRequest = (tx) => {
      const req = tx.request;
      seen.push(req.method);
      if (req.method === 'INVITE') {
        const ringing = createResponse(req, 180);
        ringing.to.params.set('tag', 'ustag');
        tx.respond(ringing);
        const ok = createResponse(req, 200);
        ok.to.params.set('tag', 'ustag');
        ok.contact = [{ uri: us.contact, params: new Map() }];
        tx.respond(ok);
        const d = Dialog.asUas(req, ok);
        const rtx = new Uas2xxRetransmitter({ clock: new SystemClock(), resend: () => tx.respond(ok), onTimeout: () => seen.push('timeout') });
        rtx.start();
        dialogs.set(d.key, { d, rtx });
        return;
      }
      const entry = [...dialogs.values()].find((e) => e.d.callId === req.callId && e.d.remoteTag === req.from.params.get('tag'));
      if (!entry) {
        tx.respond(createResponse(req, 481));
        return;
      }
      const check = entry.d.receiveRequest(req);
      tx.respond(check.ok ? createResponse(req, 200) : createResponse(req, check.status, check.reason));
    };
    us.layer.onAck = (ack) => {
      seen.push('ACK');
      for (const e of dialogs.values()) if (e.d.callId === ack.msg.callId) e.rtx.ack();
    };
    try {
      const run = await runSipp({
        args: ['-sn', 'uac', '-m', '1', '-i', '127.0.0.1', '-p', String(randomPort()), '-d', '100', '-timeout', '15s', '-recv_timeout', '5000', `127.0.0.1:${us.end.port}`],
        timeoutMs: 20_000,
      });
      assert.equal(run.code, 0, `sipp failed:\n${run.stdout.slice(-2000)}\n${run.stderr}`);
      assert.deepEqual(seen, ['INVITE', 'ACK', 'BYE']);
      const [e] = dialogs.values();
      assert.equal(e.rtx.state, 'acked');
      assert.equal(e.d.state, 'terminated');
    } finally {
      for (const e of dialogs.values()) e.rtx.stop();
      us.layer.close();
      await us.t.close();
    }
  });

  it('MUST complete a call to SIPp\'s uas scenario as UAC (ACK for 2xx from the dialog, BYE in dialog)', async () => {
    const us = await ourNode();
    const port = randomPort();
    const sipp = startSipp(['-sn', 'uas', '-m', '1', '-i', '127.0.0.1', '-p', String(port), '-timeout', '15s']);
    const exited = new Promise<number | null>((resolve) => sipp.once('close', (code) => resolve(code)));
    const target: Endpoint = { transport: 'udp', address: '127.0.0.1', port };
    try {
      await new Promise((r) => setTimeout(r, 500)); // let SIPp bind
      const invite = createRequest({
        method: 'INVITE',
        uri: { scheme: 'sip', user: 'service', host: '127.0.0.1', port, params: new Map(), headers: new Map() },
        from: { uri: { scheme: 'sip', user: 'us', host: '127.0.0.1', params: new Map(), headers: new Map() }, params: new Map() },
        to: { uri: { scheme: 'sip', user: 'service', host: '127.0.0.1', port, params: new Map(), headers: new Map() }, params: new Map() },
        contact: [{ uri: us.contact, params: new Map() }],
      });
      const final = await new Promise<SipResponse>((resolve) => {
        us.layer.request(invite, target, {
          onResponse: (res) => {
            if (res.status >= 200) resolve(res);
          },
        });
      });
      assert.equal(final.status, 200);
      const d = Dialog.asUac(invite, final);
      assert.equal(d.state, 'confirmed');
      await us.layer.sendAck(d.createAck(invite.cseq.seq), target);
      const bye = d.createRequest('BYE');
      const byeRes = await new Promise<SipResponse>((resolve) => {
        us.layer.request(bye, target, { onResponse: (res) => res.status >= 200 && resolve(res) });
      });
      assert.equal(byeRes.status, 200);
      assert.equal(await exited, 0);
    } finally {
      await stopSipp(sipp);
      us.layer.close();
      await us.t.close();
    }
  });
});
