import { parseArgs } from 'node:util'
import { type CryptoKey, exportSPKI, importJWK } from 'jose'
import { ALGORITHMS, type Algorithm, DEFAULT_ALGORITHM, loadConfig } from '../config.js'
import { randomBytes } from 'node:crypto'
import { ConfigError, EXIT_CONFIG } from '../errors.js'
import { KeyError, generateKey, keySourceFromConfig, loadKeys } from '../tokens/keys.js'
import { refreshKid } from '../tokens/refresh-key.js'
import { formatConfigError } from './serve.js'

interface IO {
  out: { write(s: string): unknown }
  err: { write(s: string): unknown }
}

const HELP = `Usage: baton keygen [--alg ES256|RS256|HS256|EdDSA] [--json]
       baton keygen --public-pem
       baton keygen --refresh [--derived] [--json]

Prints a new signing key as an environment line to paste into your secret store:
  JWT_ALGORITHM=ES256
  JWT_PRIVATE_KEY='{"kty":"EC",...}'
For HS256 it prints JWT_SECRET=base64:... (32 random bytes). ES256 is the default; simplejwt
(Django) cannot verify EdDSA.
Keep the old public key in JWT_VERIFY_KEYS while tokens signed with it are still alive.

--public-pem prints the public key the server signs with in this environment (JWT_ALGORITHM,
JWT_PRIVATE_KEY, else the development key in BATON_DATA_DIR) as a PEM, for another service's
verifier, such as simplejwt's VERIFYING_KEY.

--refresh prints a new refresh-token key, BATON_REFRESH_SECRET=base64:... (32 random bytes).
Only baton reads refresh tokens; this key is never published. When replacing it, move the old
one to BATON_REFRESH_SECRETS_PREVIOUS until REFRESH_TOKEN_LIFETIME has passed.
--refresh --derived prints the refresh key this environment derives from its signing key while
BATON_REFRESH_SECRET is unset: set it as BATON_REFRESH_SECRET before replacing the signing key,
or every session ends at its next refresh.
`

/** `baton keygen`: a new private key (JWK) or HS256 secret, printed once, never stored. */
export async function runKeygenCommand(argv: string[], io: IO, env: NodeJS.ProcessEnv = {}): Promise<number> {
  let values: {
    alg?: string | undefined
    json?: boolean | undefined
    help?: boolean | undefined
    'public-pem'?: boolean | undefined
    refresh?: boolean | undefined
    derived?: boolean | undefined
  }
  try {
    values = parseArgs({
      args: argv,
      options: {
        alg: { type: 'string' },
        json: { type: 'boolean' },
        'public-pem': { type: 'boolean' },
        refresh: { type: 'boolean' },
        derived: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (err) {
    io.err.write(`${(err as Error).message}\n\n${HELP}`)
    return 2
  }
  if (values.help === true) {
    io.out.write(HELP)
    return 0
  }
  if (values.derived === true && values.refresh !== true) {
    // Without --refresh it would print a new signing key, not the derived refresh key asked for.
    io.err.write(`baton keygen: --derived goes with --refresh\n\n${HELP}`)
    return 2
  }
  if (values['public-pem'] === true) return printPublicPEM(env, io)
  if (values.refresh === true)
    return values.derived === true
      ? printDerivedRefreshKey(env, values.json === true, io)
      : printRefreshKey(randomBytes(32), values.json === true, io)
  const alg = ALGORITHMS.find((a) => a.toLowerCase() === (values.alg ?? DEFAULT_ALGORITHM).toLowerCase()) as Algorithm | undefined
  if (alg === undefined) {
    io.err.write(`unknown algorithm "${values.alg}"; use one of ${ALGORITHMS.join(', ')}\n`)
    return 2
  }
  const key = await generateKey(alg)
  if (values.json === true) {
    io.out.write(
      `${JSON.stringify({ algorithm: alg, kid: key.kid, ...(key.secret !== undefined ? { secret: key.secret } : { privateKey: key.privateJWK }) })}\n`,
    )
    return 0
  }
  io.out.write(`JWT_ALGORITHM=${alg}\n`)
  if (key.secret !== undefined) io.out.write(`JWT_SECRET=${key.secret}\n`)
  else io.out.write(`JWT_PRIVATE_KEY='${JSON.stringify(key.privateJWK)}'\n`)
  io.err.write(`# key id ${key.kid}; keep this secret.\n`)
  return 0
}

/** Issue 17: the HMAC key of refresh tokens, in JWT_SECRET's syntax (SPEC §5). */
function printRefreshKey(bytes: Uint8Array, json: boolean, io: IO, note = ''): number {
  const secret = `base64:${Buffer.from(bytes).toString('base64')}`
  io.out.write(json ? `${JSON.stringify({ refreshSecret: secret, kid: refreshKid(bytes) })}\n` : `BATON_REFRESH_SECRET=${secret}\n`)
  io.err.write(`# refresh-token key id ${refreshKid(bytes)}${note}; keep this secret.\n`)
  return 0
}

/** The key `serve` derives in this environment (tokens/refresh-key.ts), to pin it before a signing-key change. */
async function printDerivedRefreshKey(env: NodeJS.ProcessEnv, json: boolean, io: IO): Promise<number> {
  return withConfigErrors(io, async () => {
    const config = loadConfig(env)
    if (config.refreshSecret !== null) {
      io.err.write('baton keygen: BATON_REFRESH_SECRET is set, so nothing is derived; it is the key in use.\n')
      return 2
    }
    const keys = await loadKeys({ ...keySourceFromConfig(config), verifyKeys: null })
    return printRefreshKey(keys.refresh.secret, json, io, ', derived from the signing key now in use')
  })
}

/**
 * The signing key's public half as SPKI PEM: what simplejwt's VERIFYING_KEY takes (SPEC §9),
 * for a Django service that cannot fetch JWK_URL. The key is loaded exactly as `serve` loads it.
 */
async function printPublicPEM(env: NodeJS.ProcessEnv, io: IO): Promise<number> {
  return withConfigErrors(io, async () => {
    const config = loadConfig(env)
    if (config.algorithm === 'HS256') {
      io.err.write(
        'baton keygen: HS256 has no public key; the verifier needs JWT_SECRET itself (README, "Behind an existing Django API").\n',
      )
      return 2
    }
    const keys = await loadKeys({ ...keySourceFromConfig(config), secret: null, verifyKeys: null })
    const publicJWK = keys.jwks.keys.find((k) => k.kid === keys.kid)!
    const pem = await exportSPKI((await importJWK(publicJWK, config.algorithm, { extractable: true })) as CryptoKey)
    io.out.write(pem.endsWith('\n') ? pem : `${pem}\n`)
    io.err.write(
      `# ${config.algorithm} public key, key id ${keys.kid}${keys.devKeyFile !== null ? ` (development key ${keys.devKeyFile})` : ''}\n`,
    )
    return 0
  })
}

/** A configuration or key problem is exit 78 with its message, never a stack trace. */
async function withConfigErrors(io: IO, run: () => Promise<number>): Promise<number> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err.write(formatConfigError(err))
      return EXIT_CONFIG
    }
    if (err instanceof KeyError) {
      io.err.write(`baton keygen: ${err.message}\n`)
      return EXIT_CONFIG
    }
    throw err
  }
}
