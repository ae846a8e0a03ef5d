// These tests use one fixed database file in the system temp directory, a
// shared resource: two copies running at once on a machine would corrupt each
// other. That is why the `db-migration` suite is `exclusive: true` (it runs
// alone, after the run's parallel-safe tasks).
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrate, readDb } from '../lib/migrations.js';

const DB = join(tmpdir(), 'testudo-example-db.json');

const MIGRATIONS = [
  { id: '001-users', up: (t) => { t.users = []; } },
  { id: '002-admin', up: (t) => { t.users.push({ id: 1, name: 'admin' }); } },
  { id: '003-orders', up: (t) => { t.orders = []; } },
];

describe('migrations', () => {
  before(() => rm(DB, { force: true }));
  after(() => rm(DB, { force: true }));

  test('applies every migration to a fresh database', async () => {
    assert.deepEqual(await migrate(DB, MIGRATIONS.slice(0, 2)), ['001-users', '002-admin']);
    const db = await readDb(DB);
    assert.deepEqual(db.tables.users, [{ id: 1, name: 'admin' }]);
  });

  test('applies only the new ones the next time', async () => {
    assert.deepEqual(await migrate(DB, MIGRATIONS), ['003-orders']);
    assert.deepEqual(await migrate(DB, MIGRATIONS), []);
  });

  test('refuses a database with migrations it does not know', async () => {
    await assert.rejects(migrate(DB, MIGRATIONS.slice(0, 1)), /unknown migrations: 002-admin, 003-orders/);
  });
});
