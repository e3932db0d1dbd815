import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RegistrationView } from '../../src/admin/types.ts';
import type { SimCall } from '../../src/lab/sim-phone/index.ts';
import type { Endpoint } from '../../src/sip/message/types.ts';
import { DOMAIN, once, startTestNode, waitFor } from './node-harness.ts';

describe('PbxNode over TCP (RFC 5626 flows)', () => {
  it('MUST send the INVITE for a phone registered over TCP on that same connection (NAT), not a new one to the Contact', async () => {
    const t = await startTestNode();
    try {
      const caller = await t.phone('2001');
      const callee = await t.phone('2002', { proxy: t.tcp, incoming: 'manual' });
      assert.equal(await caller.register(), 200);
      assert.equal(await callee.register(), 200);
      const binding = (await t.get<RegistrationView[]>('/api/registrations')).body.find((b) => b.aor === `2002@${DOMAIN}`);
      assert.ok(binding, 'TCP binding listed');
      assert.equal(binding.flow.transport, 'tcp');
      const connectionId = binding.flow.connectionId;
      assert.ok(connectionId, 'the flow records its connection');
      assert.deepEqual(t.node.transport.connectionIds(), [connectionId]);
      // NOTE: SimPhone's Contact names its UDP socket (it has no TCP listener): a node
      // that followed the Contact would send the INVITE there, over UDP.
      const invites: Array<{ remote: Endpoint }> = [];
      t.node.transport.on('trace', (ev) => {
        if (ev.direction === 'out' && ev.data.subarray(0, 7).toString() === 'INVITE ') invites.push({ remote: ev.remote });
      });
      const incoming = once<[SimCall]>(callee, 'incoming');
      const call = await caller.call(`sip:2002@${DOMAIN}`);
      const [bCall] = await incoming;
      assert.equal(invites.length, 1);
      assert.deepEqual(invites[0]?.remote, { transport: 'tcp', address: binding.flow.address, port: binding.flow.port });
      assert.deepEqual(t.node.transport.connectionIds(), [connectionId], 'no new connection was opened');
      assert.equal(callee.transport.connectionIds().length, 1, 'the phone still has its one connection');
      const answered = once(call, 'answered');
      bCall.answer();
      await answered;
      await Promise.all([call.sendTone(1000, 200), bCall.sendTone(440, 200)]);
      await waitFor(() => bCall.audio.packetsIn > 3 && call.audio.packetsIn > 3, 3000, 'media both ways');
      const ended = once(call, 'ended');
      bCall.hangup(); // BYE from the TCP phone over its connection
      await ended;
      await waitFor(() => t.node.calls.stats().active === 0, 3000, 'call end');
    } finally {
      await t.close();
    }
  });

  it('MUST mark the bindings of a TCP flow unreachable when its connection closes (RFC 5626 §5.2)', async () => {
    const t = await startTestNode(); // keep-alive every 600 s: only the flow failure can flip it
    try {
      const tcpPhone = await t.phone('2003', { proxy: t.tcp });
      const udpPhone = await t.phone('2004');
      assert.equal(await tcpPhone.register(), 200);
      assert.equal(await udpPhone.register(), 200);
      const view = async (aor: string): Promise<RegistrationView | undefined> =>
        (await t.get<RegistrationView[]>('/api/registrations')).body.find((b) => b.aor === aor);
      assert.equal((await view(`2003@${DOMAIN}`))?.reachable, true);
      await tcpPhone.close(); // the phone's side of the flow goes away
      await waitFor(async () => (await view(`2003@${DOMAIN}`))?.reachable === false, 3000, 'TCP binding unreachable');
      assert.equal((await view(`2004@${DOMAIN}`))?.reachable, true, 'a UDP binding is not affected');
      // A call to it is refused at once instead of ringing a dead flow.
      const call = await udpPhone.call(`sip:2003@${DOMAIN}`);
      await once(call, 'ended');
      assert.equal(call.finalStatus, 480);
      // Registering again on a new connection makes it usable again.
      const again = await t.phone('2003', { proxy: t.tcp });
      assert.equal(await again.register(), 200);
      const fresh = (await t.get<RegistrationView[]>('/api/registrations')).body.find(
        (b) => b.aor === `2003@${DOMAIN}` && b.flow.connectionId !== undefined && t.node.transport.connectionIds().includes(b.flow.connectionId),
      );
      assert.equal(fresh?.reachable, true, 'the binding on the new flow is reachable');
    } finally {
      await t.close();
    }
  });
});
