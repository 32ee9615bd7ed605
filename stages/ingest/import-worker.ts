// Worker thread of import-pool.ts: the variation folders arrive once as workerData,
// then session folders by message, each answered with its rows under its id.
import { parentPort, workerData } from 'node:worker_threads';
import { importFolder } from './folder.js';
import { VariationIndex } from './variation-keys.js';
import type { ImportReply, ImportRequest, IndexSource } from './import-pool.js';

const source = workerData as IndexSource;
const index = new VariationIndex(source.dirs, source.projectDir, source.templateDirs);

parentPort!.on('message', ({ id, item }: ImportRequest) => {
  importFolder(item, index, source.projectDir).then(
    (rows) => parentPort!.postMessage({ id, rows } satisfies ImportReply),
    (error: Error) => parentPort!.postMessage({ id, error: error.message } satisfies ImportReply),
  );
});
