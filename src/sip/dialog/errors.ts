import { SpacephoneError } from '../../util/errors.ts';

/** A dialog cannot be created or used from the given messages (RFC 3261 §12). */
export class DialogError extends SpacephoneError {
  readonly code = 'SIP_DIALOG';
}
