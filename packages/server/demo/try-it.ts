/**
 * The demo's "Try it" buttons, so the whole promise shows within a minute (issue 14) instead of
 * at 240 s of a 300 s token: "Refresh now", and in development mode the switch that breaks and
 * heals the session store (`/demo/dev/store`, packages/server/src/http/dev-routes.ts).
 */
import { isRefreshUnavailableError, type AuthClient } from '@baton/client'

export interface TryItOptions {
  client: AuthClient
  /** The server offers the outage switch (development mode, `/demo/config.json`). */
  devControls: boolean
  buttons: { refreshNow: HTMLButtonElement; storeToggle: HTMLButtonElement; storeHint: HTMLElement }
  log(name: string, detail: string): void
  describe(error: unknown): string
  /** The client said when it will try a refresh again (seconds). */
  onRetryAfter(seconds: number): void
  /** The switch is now off (`down`) or on. */
  onSwitched(down: boolean): void
  render(): void
}

const SWITCH_PATH = '/demo/dev/store'

export function setUpTryIt(options: TryItOptions): void {
  const { client, buttons, log, describe } = options
  let down = false

  /**
   * The client's own single-flight refresh, asked for the current token as after a 401
   * (`refreshAfterUnauthorized`): what otherwise happens in the token's last quarter, at once.
   * While degraded the client does not send it before its backoff ends, and says so.
   */
  async function refreshNow(): Promise<void> {
    try {
      const current = await client.getAccessToken()
      log('refresh-now', 'asked the client for a new access token')
      await client.refreshAfterUnauthorized(current)
    } catch (error) {
      if (isRefreshUnavailableError(error)) options.onRetryAfter(error.retryAfter)
      log('refresh-now', `no new token: ${describe(error)}`)
    }
    options.render()
  }

  /** Breaks or heals the store behind the server's guard, which then reacts as to a real outage. */
  async function setStore(next: boolean): Promise<void> {
    buttons.storeToggle.disabled = true
    try {
      const response = await fetch(SWITCH_PATH, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ down: next }),
      })
      if (!response.ok) throw new Error(`answered ${response.status}`)
      down = ((await response.json()) as { down?: unknown }).down === true
      log(
        'store',
        down
          ? 'switched the session store off: every store call fails, as with a dead Redis'
          : 'switched the session store back on: the server sees it within a quarter of a second',
      )
    } catch (error) {
      log('store', `could not switch the store: ${describe(error)}`)
    } finally {
      buttons.storeToggle.disabled = false
    }
    showSwitch()
  }

  function showSwitch(): void {
    buttons.storeToggle.textContent = down ? 'Heal the session store' : 'Break the session store'
    buttons.storeToggle.setAttribute('aria-pressed', String(down))
    options.onSwitched(down)
  }

  buttons.refreshNow.addEventListener('click', () => void refreshNow())
  if (!options.devControls) return
  buttons.storeToggle.hidden = false
  buttons.storeHint.hidden = false
  buttons.storeToggle.addEventListener('click', () => void setStore(!down))
  fetch(SWITCH_PATH, { cache: 'no-store' })
    .then(async (response) => {
      down = response.ok && ((await response.json()) as { down?: unknown }).down === true
      showSwitch()
    })
    .catch(() => undefined)
}
