/** Public surface of the transaction layer (RFC 3261 §17, RFC 6026). */
export { TransactionLayer, answerCancel, type TransactionLayerOptions } from './layer.ts';
export { isSynthetic, isRfc3261Branch, buildCancel, buildNon2xxAck } from './messages.ts';
export { timerValues, DEFAULT_TIMER_BASE, type TimerBase, type TimerValues } from './timers.ts';
export { IllegalTransitionError, TransactionUsageError } from './errors.ts';
export type {
  ClientTransaction,
  ClientTransactionState,
  ClientTransactionUser,
  ServerTransaction,
  ServerTransactionState,
  ServerTransactionUser,
  TransactionStateEvent,
} from './types.ts';
