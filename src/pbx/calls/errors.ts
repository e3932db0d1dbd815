/** Typed errors of the B2BUA call engine (STYLE.md §6). */
import { SpacephoneError } from '../../util/errors.ts';

export type CallErrorCode = 'CALL_STATE' | 'CALL_MEDIA' | 'CALL_INTERNAL';

export class CallError extends SpacephoneError {
  constructor(
    readonly code: CallErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
