/**
 * Adapter from the digest server (src/sip/auth/digest-server.ts, RFC 7616 /
 * RFC 8760) to the registrar's RegistrarAuth.
 *
 * A wrong password and an unknown user (DigestServer: 'rejected', computed
 * against a dummy HA1 so timing matches too) both become a fresh 401 challenge,
 * not a 403: this is what Kamailio's default config and Asterisk's
 * alwaysauthreject do, the phone's digest client recognises refused credentials
 * by being challenged again (RFC 3261 §22.2), and a 403 would have to be given
 * to unknown users as well to stay indistinguishable.
 */
import type { AuthValue } from '../../sip/message/types.ts';
import type { DigestServer, Ha1Lookup } from '../../sip/auth/digest-server.ts';
import type { RegistrarAuth, RegistrarAuthResult } from './auth.ts';

export interface DigestRegistrarAuth {
  auth: RegistrarAuth;
  /** For RegistrarOptions.challenge. */
  challenge: (stale: boolean) => AuthValue[];
}

export function digestRegistrarAuth(server: DigestServer, lookup: Ha1Lookup): DigestRegistrarAuth {
  return {
    auth: {
      check(req): RegistrarAuthResult {
        const v = server.verify(req, lookup);
        switch (v.result) {
          case 'ok':
            return { ok: true, user: v.username };
          case 'challenge':
            return { ok: false, response: v.stale ? 'stale' : 'challenge' };
          case 'rejected':
            return { ok: false, response: 'challenge' };
          case 'bad-request':
            return { ok: false, response: 'bad-request' };
        }
      },
    },
    challenge: (stale) => server.challenge({ stale }),
  };
}
