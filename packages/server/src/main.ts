#!/usr/bin/env node
/**
 * The `mailwatch` command: parse argv, run a command, set the exit code.
 */
import { Command, Option } from 'commander';
import { startApp } from './app.ts';
import { ConfigError, ENV, loadConfig } from './config.ts';

const program = new Command('mailwatch').description('Gmail API push notifications and a Pub/Sub v1 broker, self-hosted');

program
  .command('serve')
  .description('start the server (Gmail REST, Pub/Sub REST, health) on one port')
  .addOption(new Option('--host <host>', 'address to listen on (default 127.0.0.1)').env(ENV.host))
  .addOption(new Option('--port <port>', 'port; 0 picks a free one and prints it (default 8085)').env(ENV.port))
  .addOption(new Option('--data <dir>', 'directory of the SQLite database (default ./.mailwatch)').env(ENV.dataDir))
  .addOption(new Option('--memory', 'keep everything in memory (lost on exit)').env(ENV.memory))
  .addOption(new Option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)').env(ENV.logLevel))
  .addOption(new Option('--fsync', 'commit to disk on every write (survives power loss; slower)').env(ENV.fsync))
  .action(async (options: Record<string, unknown>) => {
    let config;
    try {
      config = loadConfig({
        host: options.host,
        port: options.port,
        dataDir: options.data,
        memory: options.memory,
        logLevel: options.logLevel,
        fsync: options.fsync,
      });
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`mailwatch: ${error.message}\n`);
        process.exitCode = 2;
        return;
      }
      throw error;
    }
    const app = await startApp(config);
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`mailwatch: ${signal}, shutting down\n`);
      app.stop().then(
        () => (process.exitCode = 0),
        (error: unknown) => {
          process.stderr.write(`mailwatch: shutdown failed: ${String(error)}\n`);
          process.exitCode = 1;
        },
      );
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

await program.parseAsync(process.argv);
