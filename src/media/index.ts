/** Public surface of the media layer (DESIGN.md §3: media/ never imports sip/). */
export * from './rtp-packet.ts';
export * from './port-pool.ts';
export * from './g711.ts';
export * from './dtmf.ts';
export * from './tone.ts';
export * from './wav.ts';
export * from './sdp.ts';
export * from './relay.ts';
