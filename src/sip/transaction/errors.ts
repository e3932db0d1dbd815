import { SpacephoneError } from '../../util/errors.ts';

/** A state machine was asked to take an edge its RFC diagram does not have. */
export class IllegalTransitionError extends SpacephoneError {
  readonly code = 'SIP_TX_ILLEGAL_TRANSITION';
  constructor(
    readonly machine: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`${machine}: illegal transition ${from} -> ${to}`);
  }
}

/** The TU handed the transaction layer something it cannot send (no Via, ACK as a transaction ...). */
export class TransactionUsageError extends SpacephoneError {
  readonly code = 'SIP_TX_USAGE';
}
