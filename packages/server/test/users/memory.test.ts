import { createMemoryUserStore } from '../../src/users/memory.js'
import { describeUserStoreContract } from './contract.js'

describeUserStoreContract('memory', async () => createMemoryUserStore())
