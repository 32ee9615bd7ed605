// Worker thread of import-pool.ts: the variation folders arrive once as workerData,
// then one session folder per message; its rows go back.
import { parentPort, workerData } from 'node:worker_threads';
import { importFolder, type FolderItem } from './folder.js';
import { VariationIndex } from './variation-keys.js';
import type { IndexSource } from './import-pool.js';

const source = workerData as IndexSource;
const index = new VariationIndex(source.dirs, source.projectDir, source.templateDirs);

parentPort!.on('message', (item: FolderItem) => {
  importFolder(item, index, source.projectDir).then(
    (rows) => parentPort!.postMessage({ rows }),
    (error: Error) => parentPort!.postMessage({ error: error.message }),
  );
});
