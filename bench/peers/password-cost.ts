/**
 * One password check's CPU on this machine, per side: the login rows are only comparable at the
 * same cost. baton and better-auth (as configured here) run the same scrypt (N=2^17, r=8, p=1,
 * node:crypto); Django 3.2 checks PBKDF2-SHA256 with 260,000 iterations (its default hasher).
 */
import { execFileSync } from 'node:child_process'
import { scryptSync } from 'node:crypto'
import { PYTHON } from '../../interop/helpers/django.js'

export interface PasswordCost {
  scryptN17Ms: number
  pbkdf2Sha256x260kMs: number
}

/** CPU milliseconds of one check, the median of three, each side in its own runtime. */
export function passwordCost(): PasswordCost {
  const scrypt = [0, 1, 2].map(() => {
    const t = process.cpuUsage()
    scryptSync('correct horse battery staple', 'saltsaltsaltsalt', 64, { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 2 ** 20 })
    const d = process.cpuUsage(t)
    return (d.user + d.system) / 1000
  })
  const script =
    "import hashlib,time\nfor _ in range(3):\n  t=time.process_time(); hashlib.pbkdf2_hmac('sha256', b'correct horse battery staple', b'saltsaltsaltsalt', 260000); print((time.process_time()-t)*1000)"
  const pbkdf2 = execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' }).trim().split('\n').map(Number)
  return { scryptN17Ms: Math.round(median(scrypt)), pbkdf2Sha256x260kMs: Math.round(median(pbkdf2)) }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}
