#!/usr/bin/env node
// cdc-cache command line: explain what one Debezium message would do under a set of rules.
// Decoding and planning happen in the native addon (explain()); this file only handles files and arguments.

import * as fs from 'fs';

import { CdcCacheConfigError } from './errors';
import { loadNative, type NativeBinding } from './native';
import { validateRules } from './options';
import { createRedactor } from './redact';

export const USAGE = `Usage:
  cdc-cache explain --rules RULES.json [--key KEY.json] EVENT.json
      Print, as JSON, how the rules apply to one Kafka message: the decoded event and the Redis
      commands it would produce. EVENT.json is the Kafka message value (an empty file is a
      tombstone: value null); KEY.json is the message key (empty file: null key).
      RULES.json is an array of rules, or an object with a "rules" array (e.g. your options file).
  cdc-cache tail ...        (not implemented yet)
  cdc-cache --help

Exit codes: 0 ok, 2 bad arguments, unreadable/undecodable input or invalid rules, 1 internal error.`;

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile(file: string): Buffer;
  loadNative(): Pick<NativeBinding, 'explain'>;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readFile: (f) => fs.readFileSync(f),
  loadNative: () => loadNative(),
};

class UsageError extends Error {}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

interface ExplainArgs {
  rules: string;
  key?: string;
  event: string;
}

function parseExplainArgs(args: string[]): ExplainArgs {
  let rules: string | undefined;
  let key: string | undefined;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const takeValue = (name: string): string => {
      const eq = arg.indexOf('=');
      if (eq >= 0) return arg.slice(eq + 1);
      const value = args[++i];
      if (value === undefined || value === '') throw new UsageError(`${name} needs a file argument`);
      return value;
    };
    if (arg === '--rules' || arg.startsWith('--rules=')) rules = takeValue('--rules');
    else if (arg === '--key' || arg.startsWith('--key=')) key = takeValue('--key');
    else if (arg === '--') positional.push(...args.slice(i + 1)), (i = args.length);
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (!rules) throw new UsageError('explain needs --rules RULES.json');
  if (positional.length !== 1) throw new UsageError(`explain needs exactly one EVENT.json file, got ${positional.length}`);
  return { rules, key, event: positional[0] };
}

function readInput(io: CliIo, file: string, what: string): Buffer {
  try {
    return io.readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} ${file}${code ? ` (${code})` : ''}`);
  }
}

function explain(args: ExplainArgs, io: CliIo): number {
  const rulesText = readInput(io, args.rules, 'rules file').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(rulesText);
  } catch (error) {
    throw new UsageError(`${args.rules}: not valid JSON: ${(error as Error).message}`);
  }
  // An options file may hold credentials: keep them out of every message below.
  const redact = createRedactor(parsed);
  try {
    return explainParsed(args, io, parsed);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(redact(error.message));
    throw new Error(redact((error as Error)?.message ?? String(error)));
  }
}

function explainParsed(args: ExplainArgs, io: CliIo, parsed: unknown): number {
  // An array of rules, or an object holding `rules` (e.g. the options file), whose keyPrefix and
  // deleteCommand are applied too.
  const isObject = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed);
  const explainInput: { rules: unknown; keyPrefix?: string; deleteCommand?: string } = { rules: isObject ? undefined : parsed };
  try {
    if (isObject) {
      const { rules, keyPrefix, deleteCommand } = parsed as Record<string, unknown>;
      if (rules === undefined) throw new UsageError(`${args.rules}: expected an array of rules or an object with a "rules" array`);
      if (keyPrefix !== undefined && typeof keyPrefix !== 'string') throw new UsageError(`${args.rules}: keyPrefix: expected a string`);
      if (deleteCommand !== undefined && deleteCommand !== 'UNLINK' && deleteCommand !== 'DEL') {
        throw new UsageError(`${args.rules}: deleteCommand: expected "UNLINK" or "DEL"`);
      }
      explainInput.rules = rules;
      if (keyPrefix !== undefined) explainInput.keyPrefix = keyPrefix as string;
      if (deleteCommand !== undefined) explainInput.deleteCommand = deleteCommand as string;
    }
    explainInput.rules = validateRules(explainInput.rules);
  } catch (error) {
    if (error instanceof CdcCacheConfigError) throw new UsageError(`${args.rules}: ${error.message}`);
    throw error;
  }
  const value = readInput(io, args.event, 'event file');
  const key = args.key === undefined ? null : readInput(io, args.key, 'key file');
  const binding = io.loadNative();
  let output: string;
  try {
    output = binding.explain(JSON.stringify(explainInput), value.length === 0 ? null : value, key === null || key.length === 0 ? null : key);
  } catch (error) {
    throw new UsageError(`cannot explain ${args.event}: ${(error as Error).message}`);
  }
  io.stdout(output.endsWith('\n') ? output : `${output}\n`);
  return 0;
}

/** Runs the CLI; returns the exit code. */
export function runCli(argv: string[], ioOverrides: Partial<CliIo> = {}): number {
  const io: CliIo = { ...defaultIo, ...ioOverrides };
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      (command === undefined ? io.stderr : io.stdout)(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === 'explain') {
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout(`${USAGE}\n`);
        return 0;
      }
      return explain(parseExplainArgs(rest), io);
    }
    if (command === 'tail') {
      io.stderr('cdc-cache: tail: not implemented yet\n');
      return 2;
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)} (try cdc-cache --help)`);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`cdc-cache: ${oneLine(error.message)}\n`);
      return 2;
    }
    io.stderr(`cdc-cache: ${oneLine((error as Error)?.message ?? String(error))}\n`);
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = runCli(process.argv.slice(2));
}
