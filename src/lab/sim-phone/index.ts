/** Simulated SIP phone for tests and the lab. */
export { SimPhone, type SimPhoneOptions, type SimPhoneEvents } from './sim-phone.ts';
export { SimCall, type SimCallState, type SimCallEvents } from './sim-call.ts';
export { RtpAudio } from './rtp-audio.ts';
