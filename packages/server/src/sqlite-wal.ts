import type BetterSqlite3 from 'better-sqlite3'

/**
 * Switches a database to WAL mode. Changing the journal mode needs an exclusive lock and SQLite
 * answers SQLITE_BUSY at once when another process is opening the same new file (the busy
 * timeout does not apply there), so several workers starting together retry for a while.
 */
export async function enableWAL(db: BetterSqlite3.Database, waitMs = 5000): Promise<void> {
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      db.pragma('journal_mode = WAL')
      return
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40))
    }
  }
}
