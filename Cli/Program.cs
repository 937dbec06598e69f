using OpenHvx.Cli;

return await CliApp.RunAsync(args, CliIo.System(), CliEnvironment.System());
