import type { TabChannel, TabMessage } from '../../src/tab-channel.js'

/** In-process stand-in for BroadcastChannel: channels of one hub hear each other, not themselves. */
export interface ChannelHub {
  channel(): TabChannel
  /** Every message posted through the hub, in order. */
  readonly posted: TabMessage[]
}

export function createChannelHub(): ChannelHub {
  const members = new Set<Set<(message: TabMessage) => void>>()
  const posted: TabMessage[] = []
  return {
    posted,
    channel() {
      const listeners = new Set<(message: TabMessage) => void>()
      members.add(listeners)
      return {
        post(message) {
          posted.push(message)
          const copy = structuredClone(message)
          for (const other of members) {
            if (other === listeners) continue
            // Delivered later, as a real channel does.
            queueMicrotask(() => {
              for (const listener of [...other]) listener(copy)
            })
          }
        },
        subscribe(listener) {
          listeners.add(listener)
          return () => listeners.delete(listener)
        },
        close() {
          members.delete(listeners)
        },
      }
    },
  }
}
