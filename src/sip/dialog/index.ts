/** Public surface of dialogs (RFC 3261 §12, §13.3.1.4). */
export { Dialog, dialogKey, dialogIdOfRequest, dialogIdOfResponse, TARGET_REFRESH_METHODS } from './dialog.ts';
export type { DialogCheck, DialogId, DialogRole, DialogState } from './dialog.ts';
export { Uas2xxRetransmitter, type Uas2xxOptions, type Uas2xxState } from './uas-2xx-retransmit.ts';
export { DialogError } from './errors.ts';
