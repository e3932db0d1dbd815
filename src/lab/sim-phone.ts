/** The simulated phone lives in ./sim-phone/; this path is kept for importers of the original name. */
export * from './sim-phone/index.ts';
