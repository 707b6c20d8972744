import type { Readable, Writable } from 'node:stream'

/** Thrown when the person presses Ctrl-C (or Ctrl-D on an empty line) at the prompt. */
export class PromptCancelled extends Error {
  override readonly name = 'PromptCancelled'
}

/**
 * All of a stream as UTF-8 with one trailing newline (`\n` or `\r\n`, what `echo` and
 * here-strings add) removed, or null when it is longer than `limit` bytes (not a password).
 */
export async function readPasswordFrom(stream: Readable, limit = 8192): Promise<string | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    size += buf.length
    if (size > limit) {
      stream.destroy()
      return null
    }
    chunks.push(buf)
  }
  return trimOneNewline(Buffer.concat(chunks).toString('utf8'))
}

/** Removes one trailing `\n` or `\r\n` (what `echo` and here-strings add), nothing else. */
export function trimOneNewline(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2)
  return s.endsWith('\n') ? s.slice(0, -1) : s
}

/** A terminal's input: a readable with raw mode. */
export interface TTYInput extends Readable {
  setRawMode(mode: boolean): unknown
}

/** Reads one line from the terminal in raw mode, echoing nothing; the prompt goes to `prompt`. */
export function promptHidden(stdin: TTYInput, out: Pick<Writable, 'write'>, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = ''
    // Echo goes off before the prompt shows, or what is typed right after it would be echoed.
    stdin.setRawMode(true)
    stdin.setEncoding('utf8')
    stdin.resume()
    out.write(prompt)
    function finish(outcome: () => void): void {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      out.write('\n')
      outcome()
    }
    function onData(data: string): void {
      for (const ch of data) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(value))
        if (ch === '\u0003') return finish(() => reject(new PromptCancelled()))
        if (ch === '\u0004' && value === '') return finish(() => reject(new PromptCancelled()))
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('')
        else if (ch >= ' ') value += ch
      }
    }
    stdin.on('data', onData)
  })
}
