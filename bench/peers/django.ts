/**
 * The seed's stack: the interop fixture project (interop/django: Django + DRF + simplejwt with
 * ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION) on Debian's packages and /usr/bin/python3,
 * served by gunicorn with its documented sync worker count, 2 x cores + 1. Rows on SQLite; the
 * Redis row adds django-redis as Django's cache (simplejwt's blacklist stays in the database:
 * OutstandingToken and BlacklistedToken rows, whatever the cache is).
 */
import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'
import { DJANGO_DIR, PYTHON, createDjangoProject } from '../../interop/helpers/django.js'
import { OWASP_USER, PASSWORD, sessionUser } from '../lib/users.js'
import { type TokenPair, bearerLane, jsonPost, repeatLane, rotationLane } from '../lib/lanes.js'
import { connectionPerRequest, startProcess } from './processes.js'
import type { StartContext, System } from './systems.js'

export const GUNICORN_WORKERS = 2 * cpus().length + 1

export async function startDjango(ctx: StartContext): Promise<System> {
  const sj: Record<string, string> = {
    SJ_ROTATE: 'true',
    SJ_BLACKLIST: 'true',
    // simplejwt's default algorithm (HS256, the cheapest) and a lifetime the bench cannot outlive.
    SJ_ALGORITHM: 'HS256',
    SJ_ACCESS_SECONDS: '3600',
    ...(ctx.store === 'redis' ? { DJANGO_CACHE_URL: `${ctx.redisURL}/1` } : {}),
  }
  const project = await createDjangoProject({ env: sj })
  try {
    const file = project.env.DATABASE_URL!.replace(/^sqlite:\/\//, '')
    // WAL (persistent in the file): readers do not wait for the writer. Django 3.2 has no
    // setting for it; SQLite's default journal would favour baton.
    execFileSync(PYTHON, [
      '-c',
      `import sqlite3; print(sqlite3.connect(${JSON.stringify(file)}).execute('PRAGMA journal_mode=WAL').fetchone()[0])`,
    ])
    const users = Array.from({ length: ctx.phase === 'sessions' ? ctx.sessions : 0 }, (_, i) => ({
      username: sessionUser(i),
      hasher: 'unusable',
    }))
    // Django 3.2's default hasher: PBKDF2-SHA256, 260,000 iterations.
    await project.seedUsers([...users, { username: OWASP_USER, password: PASSWORD, hasher: 'pbkdf2_sha256' }])
    // As its login view issues them (RefreshToken.for_user, with the OutstandingToken row).
    const pairs: TokenPair[] = users.length === 0 ? [] : await project.mintTokens(users.map((u) => u.username))
    const proc = await startProcess({
      name: 'django',
      command: PYTHON,
      args: (port) => [
        '-m',
        'gunicorn',
        '--bind',
        `127.0.0.1:${port}`,
        '--workers',
        String(GUNICORN_WORKERS),
        '--log-level',
        'warning',
        'project.wsgi',
      ],
      cwd: DJANGO_DIR,
      env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: DJANGO_DIR, DJANGO_SETTINGS_MODULE: 'project.settings', ...project.env },
      processes: GUNICORN_WORKERS + 1,
      probe: { method: 'GET', path: '/api/me/' },
    })
    const login = jsonPost('/api/token/', { username: OWASP_USER, password: PASSWORD })
    return {
      name: 'django',
      describe: `Django 3.2 + DRF + simplejwt (rotation, blacklist), gunicorn sync x${GUNICORN_WORKERS}, SQLite${ctx.store === 'redis' ? ' + django-redis cache' : ''}, HS256`,
      port: proc.port,
      cpu: proc.cpu,
      open: connectionPerRequest,
      // Its access tokens are checked by its own view (protected); no separate JWT service.
      supports: (mode) => mode !== 'protected-jwt',
      lanes: (mode) =>
        mode === 'refresh'
          ? pairs.map((p) => rotationLane('/api/token/refresh/', p))
          : mode === 'protected'
            ? pairs.map((p) => bearerLane('/api/me/', p))
            : Array.from({ length: ctx.loginConnections }, () => repeatLane(login, '"access":"')),
      async stop() {
        await proc.stop()
        project.cleanup()
      },
    }
  } catch (err) {
    project.cleanup()
    throw err
  }
}
