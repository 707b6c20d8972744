/**
 * Work a request starts but does not wait for (the password re-hash after a login). Each task is
 * tracked until it settles, so shutdown can let it finish before the stores close.
 */
export interface BackgroundTasks {
  /** Starts `task` without waiting for it. The task handles and logs its own errors. */
  run(task: () => Promise<void>): void
  /** Resolves once every task started so far, and any they started, has settled. */
  idle(): Promise<void>
}

export function createBackgroundTasks(): BackgroundTasks {
  const pending = new Set<Promise<void>>()
  return {
    run(task) {
      // The catch is a last guard: an unhandled rejection would end the process.
      const settled: Promise<void> = Promise.resolve()
        .then(task)
        .catch(() => {})
        .finally(() => pending.delete(settled))
      pending.add(settled)
    },
    async idle() {
      while (pending.size > 0) await Promise.all(pending)
    },
  }
}
