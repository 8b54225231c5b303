// pg-boss beside omnichannel's dispatch (`make bench`): insert JOBS no-op jobs
// in one queue (in bulk, INSERT_BATCH a call), then work them with WORKERS
// workers fetching BATCH jobs at a time, and time from the first fetch to the
// last completion. Prints one JSON line.
//
//   DATABASE_URL=postgres://… JOBS=50000 node bench.mjs
//
// pg-boss 10 (Node 20): `work` calls the handler with an array of up to
// `batchSize` jobs and completes them together when it resolves. A worker
// waits `pollingIntervalSeconds` (at least 0.5) between fetches unless it is
// notified; the handler notifies its own worker, so that a worker with work
// left fetches again at once — the fastest loop pg-boss offers. One worker is
// the fastest here (50 000 jobs on 2 cores: 1 worker 7 000/s, 2 workers 5 200/s,
// 4 workers 5 000/s): more workers only contend on the same rows.
import PgBoss from 'pg-boss'
import pg from 'pg'

const url = process.env.DATABASE_URL
const jobs = Number(process.env.JOBS ?? 50000)
const batchSize = Number(process.env.BATCH ?? 1000)
const workers = Number(process.env.WORKERS ?? 1)
const insertBatch = Number(process.env.INSERT_BATCH ?? 5000)
const queue = process.env.QUEUE ?? 'bench'

const boss = new PgBoss({
  connectionString: url,
  max: workers + 4,
  supervise: false,
  schedule: false,
  migrate: true,
})
boss.on('error', (error) => console.error('pg-boss:', error.message))
await boss.start()
await boss.createQueue(queue)

const insertStarted = Date.now()
for (let i = 0; i < jobs; i += insertBatch) {
  const n = Math.min(insertBatch, jobs - i)
  await boss.insert(Array.from({ length: n }, (_, k) => ({ name: queue, data: { i: i + k } })))
}
const insertMs = Date.now() - insertStarted

const probe = new pg.Client({ connectionString: url })
await probe.connect()
const pending = async () => {
  const { rows } = await probe.query(
    "SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state <> 'completed'",
    [queue],
  )
  return rows[0].n
}

let firstFetch = null
let handled = 0
const ids = []
for (let w = 0; w < workers; w++) {
  const id = await boss.work(queue, { batchSize, pollingIntervalSeconds: 0.5 }, async (batch) => {
    firstFetch ??= process.hrtime.bigint()
    handled += batch.length
    boss.notifyWorker(id)
  })
  ids.push(id)
}

// The count scans the job table: it is asked only once every job has been
// handed to the handler, so that it does not slow the workers it measures.
const tick = () => new Promise((resolve) => setTimeout(resolve, 5))
while (handled < jobs) await tick()
while ((await pending()) > 0) await tick()
const done = process.hrtime.bigint()
const seconds = Number(done - firstFetch) / 1e9
console.log(JSON.stringify({
  version: JSON.parse((await import('node:fs')).readFileSync(new URL('./node_modules/pg-boss/package.json', `file://${process.cwd()}/`))).version,
  jobs,
  batch_size: batchSize,
  workers,
  insert_s: insertMs / 1000,
  work_s: seconds,
  rate: jobs / seconds,
}))
await probe.end()
await boss.stop({ graceful: false, wait: false, close: true })
process.exit(0)
