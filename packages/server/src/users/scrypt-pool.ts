import { scrypt } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

/**
 * How much less CPU a password check gets than the request loop when both want it (Linux nice
 * levels: at +10 a thread's share is about a tenth of a nice-0 thread's). A login storm (issue 15:
 * everyone logged out at once, ~0.4 s of scrypt each) then takes only the CPU the event loop does
 * not need: refreshes, protected calls and the 503s that shed logins stay fast, and the checks
 * still use every idle cycle, so an unloaded login is as fast as before.
 */
export const PASSWORD_CHECK_NICE = 10

/** scrypt's options, as node:crypto takes them. */
export interface ScryptOptions {
  N: number
  r: number
  p: number
  maxmem: number
}

interface Task {
  password: string
  salt: Buffer
  length: number
  options: ScryptOptions
  resolve: (key: Buffer) => void
  reject: (err: Error) => void
}

// The worker is plain CommonJS given as source (no file to resolve under tsx, dist or a bundle).
// It lowers its own thread's priority: setpriority(2) on Linux takes a thread id, which
// /proc/thread-self names. Elsewhere that fails and the thread keeps the normal priority.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { scryptSync } = require('node:crypto')
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop())
  require('node:os').setPriority(tid, ${PASSWORD_CHECK_NICE})
} catch {}
parentPort.on('message', (m) => {
  try {
    parentPort.postMessage({ key: scryptSync(m.password, m.salt, m.length, m.options) })
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) })
  }
})
`

interface Slot {
  worker: Worker
  task: Task | null
}

/**
 * A few worker threads that run scrypt at {@link PASSWORD_CHECK_NICE}. One task per thread at a
 * time (the login queue already bounds how many run); threads start on first use, do not keep
 * the process alive while idle, and one that dies is replaced at the next task. Where a worker
 * cannot start, scrypt runs on libuv's pool as before.
 */
export class ScryptPool {
  readonly #size: number
  readonly #slots: Slot[] = []
  readonly #queue: Task[] = []
  #broken = false

  constructor(size = availableParallelism()) {
    this.#size = Math.max(1, size)
  }

  derive(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
    if (this.#broken) return libuvScrypt(password, salt, length, options)
    return new Promise((resolve, reject) => {
      this.#queue.push({ password, salt, length, options, resolve, reject })
      this.#dispatch()
    })
  }

  /** Ends every thread (tests; a server's threads end with the process). */
  async close(): Promise<void> {
    const slots = this.#slots.splice(0)
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#slots.find((s) => s.task === null) ?? this.#spawn()
      if (slot === null) return
      const task = this.#queue.shift() as Task
      slot.task = task
      slot.worker.ref()
      slot.worker.postMessage({ password: task.password, salt: task.salt, length: task.length, options: task.options })
    }
  }

  #spawn(): Slot | null {
    if (this.#slots.length >= this.#size) return null
    let worker: Worker
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true })
    } catch {
      this.#fallBack()
      return null
    }
    const slot: Slot = { worker, task: null }
    worker.unref()
    worker.on('message', (m: { key?: Uint8Array; error?: string }) => {
      const task = slot.task
      slot.task = null
      worker.unref()
      if (task !== null) {
        if (m.key !== undefined) task.resolve(Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength))
        else task.reject(new Error(m.error ?? 'scrypt failed'))
      }
      this.#dispatch()
    })
    const gone = (err: Error): void => {
      const index = this.#slots.indexOf(slot)
      if (index >= 0) this.#slots.splice(index, 1)
      const task = slot.task
      slot.task = null
      task?.reject(err)
      this.#dispatch()
    }
    worker.on('error', gone)
    worker.on('exit', (code) => gone(new Error(`scrypt worker exited (${code})`)))
    this.#slots.push(slot)
    return slot
  }

  /** Workers are unavailable here: what waits, and everything after, runs on libuv's pool. */
  #fallBack(): void {
    this.#broken = true
    for (const task of this.#queue.splice(0)) {
      libuvScrypt(task.password, task.salt, task.length, task.options).then(task.resolve, task.reject)
    }
  }
}

function libuvScrypt(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/** The process's pool: password hashing and checks share it. */
export const scryptPool = new ScryptPool()
