#!/usr/bin/env node
// kto as a kubectl plugin: kubectl runs `kubectl-kto` from PATH for `kubectl kto ...`.
import { main } from '../dist/cli.js';

await main(process.argv);
