/**
 * The cryptography ceiling: what one core can do of one refresh's cryptography, with `jose` as
 * issue 5 asks (one verification and two signatures with the algorithm, SPEC §8), with raw
 * `node:crypto` and with baton's own token codec (`tokens/jwt.ts`), for each signing algorithm.
 * Since issue 17 a refresh token carries an HMAC (tokens/refresh-key.ts): a refresh is one MAC
 * check, one signature with the algorithm (the access token) and one MAC; the raw figure of the
 * shape before it (three operations with the algorithm) is kept beside it.
 *
 * Run in its own process by `bench/run.ts` (nothing else runs meanwhile) and prints one JSON line.
 * Usage: node --import tsx bench/crypto-ceiling.ts [--algs EdDSA,ES256,RS256,HS256] [--ms 2000]
 */
import { KeyObject, createHmac, createSecretKey, sign as cryptoSign, verify as cryptoVerify, randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { SignJWT, jwtVerify } from 'jose'
import type { Algorithm } from '../packages/server/src/config.js'
import { createTokenCodec, newId } from '../packages/server/src/tokens/jwt.js'
import { generateKey, loadKeys } from '../packages/server/src/tokens/keys.js'

export interface CryptoCeiling {
  alg: Algorithm
  /** Refreshes' cryptography per CPU second with jose directly (verify + 2 signs). */
  joseRefreshPerCore: number
  /** Baton's operations with node:crypto directly (no JSON, no checks): the hardware's cost. */
  nodeRefreshPerCore: number
  /** The same before issue 17: verify + 2 signs, all with the algorithm. */
  nodeRefreshAllPublicKeyPerCore: number
  /** The same through baton's codec (node:crypto, with every check baton makes). */
  codecRefreshPerCore: number
  /** Single operations per CPU second with jose. */
  joseSignPerCore: number
  joseVerifyPerCore: number
}

const { values } = parseArgs({
  options: { algs: { type: 'string', default: 'EdDSA,ES256,RS256,HS256' }, ms: { type: 'string', default: '2000' } },
})
const algs = values.algs.split(',') as Algorithm[]
const ms = Number(values.ms)

/** Runs `op` back to back for `ms` and answers operations per CPU second of this process. */
async function perCore(op: () => Promise<unknown>, ms: number): Promise<number> {
  const warm = performance.now() + Math.min(500, ms / 4)
  while (performance.now() < warm) await op()
  const c0 = process.cpuUsage()
  const end = performance.now() + ms
  let n = 0
  while (performance.now() < end) {
    await op()
    n++
  }
  const c = process.cpuUsage(c0)
  return Math.round(n / ((c.user + c.system) / 1e6))
}

const results: CryptoCeiling[] = []
for (const alg of algs) {
  const generated = await generateKey(alg)
  const keys = await loadKeys({
    algorithm: alg,
    privateKey: generated.privateJWK === undefined ? null : JSON.stringify(generated.privateJWK),
    secret: alg === 'HS256' ? new Uint8Array(randomBytes(32)) : null,
    verifyKeys: null,
    devKeyDir: null,
  })
  const verifyKey = keys.verifyKeys.get(keys.kid)!.key
  const now = Math.floor(Date.now() / 1000)
  const access = {
    iss: 'baton',
    aud: 'baton',
    sub: '17',
    user_id: '17',
    sid: newId('s_'),
    jti: newId(),
    iat: now,
    exp: now + 300,
    token_type: 'access',
  }
  const refresh = {
    iss: 'baton',
    aud: 'baton',
    sub: '17',
    sid: access.sid,
    jti: newId(),
    gen: 1,
    iat: now,
    exp: now + 86_400,
    auth_time: now,
    token_type: 'refresh',
  }
  const header = { alg, kid: keys.kid }
  const joseSign = (payload: object, typ: string) =>
    new SignJWT({ ...payload }).setProtectedHeader({ ...header, typ }).sign(keys.signingKey)
  const refreshToken = await joseSign(refresh, 'refresh+jwt')
  const joseVerify = () => jwtVerify(refreshToken, verifyKey, { algorithms: [alg], issuer: 'baton', audience: 'baton', typ: 'refresh+jwt' })

  const codec = createTokenCodec(keys, { issuer: 'baton', audience: 'baton', leeway: 5, clock: Date.now })
  const codecToken = await codec.signRefresh({
    sub: '17',
    sid: access.sid,
    jti: refresh.jti,
    gen: 1,
    iat: now,
    exp: now + 86_400,
    auth_time: now,
  })

  // Raw node:crypto over inputs the size of baton's tokens (header.payload ~ 300-400 bytes).
  const signKey = keys.signingKey instanceof Uint8Array ? createSecretKey(keys.signingKey) : KeyObject.from(keys.signingKey)
  const checkKey = verifyKey instanceof Uint8Array ? createSecretKey(verifyKey) : KeyObject.from(verifyKey)
  const input = Buffer.from(refreshToken.slice(0, refreshToken.lastIndexOf('.')), 'latin1')
  const rawSign = (data: Buffer): Buffer => {
    if (alg === 'HS256') return createHmac('sha256', signKey).update(data).digest()
    if (alg === 'EdDSA') return cryptoSign(null, data, signKey)
    if (alg === 'ES256') return cryptoSign('sha256', data, { key: signKey, dsaEncoding: 'ieee-p1363' })
    return cryptoSign('sha256', data, signKey)
  }
  const rawSignature = rawSign(input)
  const refreshKey = createSecretKey(keys.refresh.secret)
  const rawMac = (data: Buffer): Buffer => createHmac('sha256', refreshKey).update(data).digest()
  const rawMacValue = rawMac(input)
  const rawVerify = (): boolean => {
    if (alg === 'HS256') return createHmac('sha256', checkKey).update(input).digest().equals(rawSignature)
    if (alg === 'EdDSA') return cryptoVerify(null, input, checkKey, rawSignature)
    if (alg === 'ES256') return cryptoVerify('sha256', input, { key: checkKey, dsaEncoding: 'ieee-p1363' }, rawSignature)
    return cryptoVerify('sha256', input, checkKey, rawSignature)
  }

  results.push({
    alg,
    nodeRefreshPerCore: await perCore(async () => {
      if (!rawMac(input).equals(rawMacValue)) throw new Error('raw MAC check failed')
      rawSign(input)
      rawMac(input)
    }, ms),
    nodeRefreshAllPublicKeyPerCore: await perCore(async () => {
      if (!rawVerify()) throw new Error('raw verify failed')
      rawSign(input)
      rawSign(input)
    }, ms),
    joseRefreshPerCore: await perCore(async () => {
      await joseVerify()
      await joseSign(access, 'at+jwt')
      await joseSign(refresh, 'refresh+jwt')
    }, ms),
    codecRefreshPerCore: await perCore(async () => {
      const c = await codec.verifyRefresh(codecToken)
      await codec.signAccess({ sub: c.sub, user_id: c.sub, sid: c.sid, jti: newId(), iat: now, exp: now + 300 })
      await codec.signRefresh({ sub: c.sub, sid: c.sid, jti: newId(), gen: c.gen + 1, iat: now, exp: now + 86_400, auth_time: c.auth_time })
    }, ms),
    joseSignPerCore: await perCore(() => joseSign(access, 'at+jwt'), ms / 2),
    joseVerifyPerCore: await perCore(joseVerify, ms / 2),
  })
}
process.stdout.write(JSON.stringify(results) + '\n')
