/** Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760): public surface of src/sip/auth. */
export { DigestServer, type DigestServerOptions, type DigestVerdict, type Ha1Lookup, type ChallengeOptions, type VerifyOptions } from './digest-server.ts';
export { DigestClient, type DigestClientOptions } from './digest-client.ts';
export { ha1, digestResponse, parseAlgorithm, ALGORITHM_PREFERENCE, DigestError, type DigestAlgorithm } from './digest.ts';
