using OpenHvx.DevHost;

await using var devHost = await DevHostApp.StartAsync(args);
DevHostBanner.Print(devHost.Url, devHost.CoreUrl);
await devHost.RunUntilShutdownAsync();
