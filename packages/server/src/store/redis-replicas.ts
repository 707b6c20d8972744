import type { Logger } from 'pino'
import type { RedisClient } from './redis-connection.js'
import { sessionKey } from './redis-records.js'

/** After a replica failed to confirm a revocation in time, revocations stop waiting this long. */
export const REPLICA_WAIT_PAUSE_MS = 10_000

export interface ReplicaConfirmOptions {
  client: RedisClient
  /** Runs a command the way the store does (not sent while disconnected; errors masked). */
  run: <T>(command: () => Promise<T>) => Promise<T>
  /** `WAIT 1 <ms>`: how long a revocation waits for a replica. */
  waitMs: number
  /** Whether Sentinel manages this Redis (a primary is then expected to have replicas). */
  sentinel: boolean
  address: string
  log?: Logger | undefined
}

/**
 * A revocation is the one write whose loss lets someone in: after a failover to an
 * asynchronous replica that never received it, a logged-out session would be live again. So
 * when the session's node has replicas, the store waits for one to confirm the write
 * (`WAIT 1`, `replicaWaitMs`). WAIT counts only this connection's writes, so it runs on the
 * connection every refresh shares and holds it while it waits: the wait is short (a healthy
 * replica answers within a round trip), and after one times out revocations stop waiting for
 * {@link REPLICA_WAIT_PAUSE_MS}. Unconfirmed, the revocation still stands on the primary and
 * the caller gets its answer; one warning per session names the window. A node without
 * replicas costs one `INFO replication` round trip per revocation and no wait. A failure here
 * (a connection lost, `INFO` refused by an ACL) is that warning too: the revocation is done,
 * and failing the logout for it would only make the client retry a logout already made.
 */
export class ReplicaConfirmer {
  readonly #o: ReplicaConfirmOptions
  /** Until then (performance.now()), revocations do not wait for a replica: one just failed to. */
  #pausedUntil = 0

  constructor(options: ReplicaConfirmOptions) {
    this.#o = options
  }

  /**
   * Waits (briefly) for a replica to hold session `id`'s revocation; warns when none does. The
   * warning names every session in `covers`: the revocations made on the same node just before
   * (a logout-all), which one WAIT confirms or not together.
   */
  async confirm(id: string, covers: readonly string[] = [id]): Promise<void> {
    const named = covers.length > 1 ? { sid: id, sids: covers } : { sid: id }
    try {
      await this.#waitForReplica(id, named)
    } catch (err) {
      this.#o.log?.warn(
        { event: 'revoke_unreplicated', ...named, address: this.#o.address, err },
        'a revocation could not be confirmed by a replica: a failover now could bring the session back',
      )
    }
  }

  async #waitForReplica(id: string, named: { sid: string; sids?: readonly string[] }): Promise<void> {
    const { run, log, address } = this.#o
    const key = sessionKey(id)
    const info = String(await run(() => this.#onNodeOf(key, ['info', 'replication'])))
    const replicas = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? '0')
    if (replicas === 0) {
      // Standalone: nothing to confirm. Under Sentinel a primary with no replica is one in the
      // middle of a failover (its replica is being promoted) or cut off from them: a write it
      // takes now is dropped when it rejoins as a replica (the chaos run saw a logout come back
      // that way), so that is the same warning, naming the window.
      if (!this.#o.sentinel) return
      log?.warn(
        { event: 'revoke_unreplicated', ...named, replicas, waitMs: 0, address },
        'a revocation was made on a primary with no replica connected (a failover under way?): it could be lost',
      )
      return
    }
    const waitMs = this.#o.waitMs
    const paused = performance.now() < this.#pausedUntil
    const acked = paused ? 0 : Number(await run(() => this.#onNodeOf(key, ['wait', '1', String(waitMs)])))
    if (acked >= 1) return
    if (!paused) this.#pausedUntil = performance.now() + REPLICA_WAIT_PAUSE_MS
    log?.warn(
      { event: 'revoke_unreplicated', ...named, replicas, waitMs: paused ? 0 : waitMs, address },
      'a revocation was not confirmed by any replica: a failover now could bring the session back',
    )
  }

  /** A keyless command on the node holding `key`: a Cluster pipeline goes where its keys live. */
  async #onNodeOf(key: string, command: string[]): Promise<unknown> {
    const replies = await this.#o.client.pipeline([['exists', key], command]).exec()
    const [err, value] = replies?.[1] ?? [new Error(`no reply to ${command[0]}`), null]
    if (err) throw err
    return value
  }
}
