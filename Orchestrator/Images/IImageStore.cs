
namespace OpenHvx.Orchestrator.Images;

/// <summary>A catalog image. <see cref="File"/> is a plain file name inside each agent's image folder.</summary>
public sealed record Image(string ImageId, string Name, string Version, string File, int Generation, int MinStorageGB, string? Os, bool IsDefault, DateTimeOffset PublishedAt)
{
    public const string LatestSuffix = ".latest";
}

/// <summary>The catalog. At most one image is the default: storing a default image clears the flag of every other one.</summary>
public interface IImageStore
{
    Task<IReadOnlyList<Image>> ListAsync(CancellationToken cancellationToken = default);
    /// <summary>Resolves an image id, or <c>&lt;name&gt;.latest</c> to the newest version of that name.</summary>
    Task<Image?> ResolveAsync(string imageId, CancellationToken cancellationToken = default);
    Task<Image?> GetDefaultAsync(CancellationToken cancellationToken = default);
    /// <summary>Adds the image; false (and nothing changed) when its id exists.</summary>
    Task<bool> TryAddAsync(Image image, CancellationToken cancellationToken = default);
    /// <summary>Stores the image under its id; true when it replaced one, false when it was new.</summary>
    Task<bool> ReplaceAsync(Image image, CancellationToken cancellationToken = default);
    Task<bool> DeleteAsync(string imageId, CancellationToken cancellationToken = default);
}
