import { FakeClock } from '../../../src/sip/clock.ts';
import type { SipResponse } from '../../../src/sip/message/types.ts';
import { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import type { ClientTransaction, ClientTransactionUser } from '../../../src/sip/transaction/types.ts';
import { FakeTransport } from './fake-transport.ts';

export function setup(reliable = false) {
  const clock = new FakeClock();
  const transport = new FakeTransport(reliable);
  const layer = new TransactionLayer(transport, { clock });
  const errors: unknown[] = [];
  layer.onError = (e) => errors.push(e);
  return { clock, transport, layer, errors };
}

/** A ClientTransactionUser recording what it is told. */
export function recorder(): ClientTransactionUser & { got: SipResponse[]; txs: ClientTransaction[]; statuses(): number[] } {
  const got: SipResponse[] = [];
  const txs: ClientTransaction[] = [];
  return {
    got,
    txs,
    onResponse(res, tx) {
      got.push(res);
      txs.push(tx);
    },
    statuses() {
      return got.map((r) => r.status);
    },
  };
}
