/**
 * Call set-up steps the call and node tests share, on SimPhones of any harness.
 */
import type { SimCall, SimPhone } from '../../src/lab/sim-phone/index.ts';
import { once } from './wait.ts';

/** `from` calls `uri`; resolves when every phone of `ringing` has its incoming call. */
export async function dial(from: SimPhone, uri: string, ringing: SimPhone[]): Promise<{ call: SimCall; incoming: SimCall[] }> {
  const arrivals = ringing.map((p) => once<[SimCall]>(p, 'incoming'));
  const call = await from.call(uri);
  const incoming = (await Promise.all(arrivals)).map(([c]) => c);
  return { call, incoming };
}

/** `from` calls `uri`, `to` (incoming: 'manual') answers; resolves once the caller has the 200. */
export async function answeredCall(from: SimPhone, to: SimPhone, uri: string): Promise<{ call: SimCall; callee: SimCall }> {
  const { call, incoming } = await dial(from, uri, [to]);
  const callee = incoming[0];
  if (!callee) throw new Error('no incoming call');
  const answered = once(call, 'answered');
  callee.answer();
  await answered;
  return { call, callee };
}
