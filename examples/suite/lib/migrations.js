// A tiny migration runner over a JSON "database" file. Migrations run in
// order, at most once each; the applied ones are recorded in the file.

import { readFile, rename, writeFile } from 'node:fs/promises';

/**
 * @typedef {{ id: string, up: (db: Record<string, unknown[]>) => void }} Migration
 */

export async function readDb(path) {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    if (error.code === 'ENOENT') return { applied: [], tables: {} };
    throw error;
  }
}

async function writeDb(path, db) {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(db, null, 2));
  await rename(tmp, path);
}

/**
 * Applies the migrations not yet recorded, in order. Returns the ids applied.
 * @param {string} path
 * @param {Migration[]} migrations
 */
export async function migrate(path, migrations) {
  const ids = migrations.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error('duplicate migration id');
  const db = await readDb(path);
  const unknown = db.applied.filter((id) => !ids.includes(id));
  if (unknown.length > 0) throw new Error(`database has unknown migrations: ${unknown.join(', ')}`);
  const applied = [];
  for (const migration of migrations) {
    if (db.applied.includes(migration.id)) continue;
    migration.up(db.tables);
    db.applied.push(migration.id);
    applied.push(migration.id);
  }
  await writeDb(path, db);
  return applied;
}
