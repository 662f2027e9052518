/**
 * Attachment files (store/queries/attachment-files.ts), on both stores: stored once per content in
 * 256 KB chunks before the launch's transaction, named by the launch in it, read back whole into shared
 * memory, completed when left half written, written again when purged between the two, and purged a
 * few chunks at a time once no launch names them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Attachment } from '../../src/core/attachments.ts';
import { withAttachmentFiles } from '../../src/engine/attachment-files.ts';
import { AttachmentFileMissing, CHUNK_BYTES, fileHash, ORPHAN_GRACE_MS } from '../../src/store/queries/attachment-files.ts';
import { driverOf } from '../../src/store/store.ts';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers.ts';
import { seedLaunch } from './seed.ts';

const NOW = 1_900_000_000_000;

function file(name: string, bytes: number): Attachment {
  const data = randomBytes(bytes);
  return { name, mime: 'application/octet-stream', data, sha256: fileHash({ data, sha256: null }) };
}

for (const kind of STORE_KINDS) {
  describe(`attachment files (${kind})`, () => {
    let t: TestStore;
    const count = async (sql: string, params: (string | number)[] = []) => Number((await driverOf(t.store).get<{ n: number }>(sql, params))!.n);
    let campaign: number;
    const newLaunch = async () => ({
      launch: (await t.store.insertLaunch({ campaign_id: campaign, kind: 'start', state: 'done', content: {}, custom_data: null, audience: null, cursor: null }, NOW)).id,
    });
    before(async () => {
      t = await openTestStore(kind);
      campaign = (await seedLaunch(t.store, NOW)).campaign;
    });
    after(() => t?.close());

    test('a file of 2.5 chunks is stored in 3 chunks, named by a launch and read back whole, over shared memory', async () => {
      const { launch } = await newLaunch();
      const a = file('report.pdf', CHUNK_BYTES * 2 + CHUNK_BYTES / 2);
      await t.store.storeAttachmentFile(a.sha256!, a.data, NOW);
      await t.store.transaction((tx) => tx.insertAttachments(launch, [a], NOW));
      assert.equal(await count('SELECT COUNT(*) AS n FROM attachment_chunks WHERE sha256 = ?', [a.sha256!]), 3);
      const [back] = await t.store.getAttachments(launch);
      assert.ok(back.data.equals(a.data), 'the bytes read back are the bytes stored');
      assert.ok(back.data.buffer instanceof SharedArrayBuffer, 'the mailer thread gets them without a copy');
      assert.deepEqual(await t.store.attachmentNames(launch), [{ name: 'report.pdf', mime: 'application/octet-stream', size: a.data.length, sha256: a.sha256 }]);
    });

    test('the same file sent by two launches is stored once; the second only marks it used', async () => {
      const one = await newLaunch();
      const two = await newLaunch();
      const a = file('policy.pdf', 1000);
      for (const [at, l] of [[NOW, one.launch], [NOW + 5000, two.launch]]) {
        await withAttachmentFiles(t.store, [a], () => t.store.transaction((tx) => tx.insertAttachments(l, [a], at)));
      }
      assert.equal(await count('SELECT COUNT(*) AS n FROM attachment_files WHERE sha256 = ?', [a.sha256!]), 1);
      assert.equal(await count('SELECT COUNT(*) AS n FROM attachment_chunks WHERE sha256 = ?', [a.sha256!]), 1);
      assert.equal(await count('SELECT COUNT(*) AS n FROM launch_attachments WHERE sha256 = ?', [a.sha256!]), 2);
      assert.ok((await t.store.getAttachments(two.launch))[0].data.equals(a.data));
    });

    test('a file left half written (a crash between chunks) is completed by the next write of it', async () => {
      const a = file('half.bin', CHUNK_BYTES * 3);
      await t.store.storeAttachmentFile(a.sha256!, a.data, NOW);
      await driverOf(t.store).run('DELETE FROM attachment_chunks WHERE sha256 = ? AND seq >= 1', [a.sha256!]);
      assert.equal(await t.store.readAttachmentFile(a.sha256!), null, 'a file not stored whole is not read');
      await t.store.storeAttachmentFile(a.sha256!, a.data, NOW);
      assert.ok((await t.store.readAttachmentFile(a.sha256!))!.equals(a.data));
    });

    test('a launch naming a file that is not stored fails with AttachmentFileMissing and stores nothing; withAttachmentFiles writes it again', async () => {
      const { launch } = await newLaunch();
      const a = file('gone.bin', 10);
      await assert.rejects(
        t.store.transaction((tx) => tx.insertAttachments(launch, [a], NOW)),
        (e) => e instanceof AttachmentFileMissing && e.sha256 === a.sha256,
      );
      assert.equal(await count('SELECT COUNT(*) AS n FROM launch_attachments WHERE launch_id = ?', [launch]), 0);
      // The purge removes the file between its write and the launch's transaction, once.
      let purged = false;
      await withAttachmentFiles(t.store, [a], async () => {
        if (!purged) {
          purged = true;
          await driverOf(t.store).run('DELETE FROM attachment_chunks WHERE sha256 = ?', [a.sha256!]);
          await driverOf(t.store).run('DELETE FROM attachment_files WHERE sha256 = ?', [a.sha256!]);
        }
        await t.store.transaction((tx) => tx.insertAttachments(launch, [a], NOW));
      });
      assert.ok((await t.store.getAttachments(launch))[0].data.equals(a.data));
    });

    test('a row written before migration 025/026 keeps its bytes in launch_attachments and is read as before', async () => {
      const { launch } = await newLaunch();
      await driverOf(t.store).run('INSERT INTO launch_attachments (launch_id, idx, name, mime, data, sha256) VALUES (?, 0, ?, ?, ?, NULL)', [launch, 'old.txt', 'text/plain', Buffer.from('old bytes')]);
      const [old] = await t.store.getAttachments(launch);
      assert.equal(old.data.toString(), 'old bytes');
      assert.deepEqual(await t.store.attachmentNames(launch), [{ name: 'old.txt', mime: 'text/plain', size: 9, sha256: null }]);
    });

    test('the purge takes an unnamed file unused for ORPHAN_GRACE_MS a few chunks a batch; named and recently used ones stay', async () => {
      const { launch } = await newLaunch();
      const old = NOW - 2 * ORPHAN_GRACE_MS;
      const orphan = file('orphan.bin', CHUNK_BYTES * 5);
      const named = file('named.bin', 100);
      const recent = file('recent.bin', 100);
      await t.store.storeAttachmentFile(orphan.sha256!, orphan.data, old);
      await t.store.storeAttachmentFile(named.sha256!, named.data, old);
      await t.store.transaction((tx) => tx.insertAttachments(launch, [named], old));
      await t.store.storeAttachmentFile(recent.sha256!, recent.data, NOW - 1000);
      const before = NOW - ORPHAN_GRACE_MS;
      const batches: number[] = [];
      for (;;) {
        const n = await t.store.transaction((tx) => tx.purge('attachment_files', before, 32)); // 32 rows: 2 chunks
        if (n === 0) break;
        batches.push(n);
      }
      assert.deepEqual(batches, [2, 2, 2], 'two chunks a batch; the last batch takes the last chunk and the file row');
      const left = await driverOf(t.store).all<{ sha256: string }>('SELECT sha256 FROM attachment_files ORDER BY sha256');
      assert.ok(!left.some((f) => f.sha256 === orphan.sha256), 'the orphan went');
      assert.ok(left.some((f) => f.sha256 === named.sha256) && left.some((f) => f.sha256 === recent.sha256), 'the named file and the recent one stay');
      assert.equal(await count('SELECT COUNT(*) AS n FROM attachment_chunks WHERE sha256 = ?', [orphan.sha256!]), 0);
    });
  });
}
