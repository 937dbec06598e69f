using System.CommandLine;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Contracts.Actions;

namespace OpenHvx.Cli.Commands.Vm;

/// <summary>
/// The options of an action's data, derived from its record (<see cref="ActionData.MembersOf"/>): one per member, named after its
/// JSON path in kebab case (<c>storageGB</c> → <c>--storage-gb</c>), nested records flattened (<c>--cloud-init-hostname</c>), lists
/// repeatable, booleans as flags, descriptions from [Description]. What is given is read into the data's JSON and checked with
/// <see cref="ActionData.Read"/>, as the API checks it, before anything is sent.
/// </summary>
public sealed class DataOptions
{
    private sealed record Member(Option Option, string[] Path, Type Type);

    private readonly List<Member> _members = [];

    private DataOptions(Type record)
    {
        Record = record;
        Derive(record, []);
    }

    public Type Record { get; }

    public IEnumerable<Option> Options => _members.Select(m => m.Option);

    public static DataOptions For(string action) => new(ActionDataTypes.Of(action));

    /// <summary>What the record's [Description] says, for the command's help.</summary>
    public string? Description => Record.GetCustomAttribute<DescriptionAttribute>()?.Description;

    private void Derive(Type type, string[] prefix)
    {
        foreach (var (name, property, _) in ActionData.MembersOf(type))
        {
            var path = prefix.Append(name).ToArray();
            var memberType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (ActionData.IsRecord(memberType))
            {
                Derive(memberType, path);
                continue;
            }
            var optionName = "--" + string.Join('-', path.Select(Kebab));
            var description = property.GetCustomAttribute<DescriptionAttribute>()?.Description;
            Option option = memberType == typeof(bool) ? new Option<bool>(optionName) { Description = description }
                : IsList(memberType) ? new Option<string[]>(optionName) { Description = description + " (repeat the option for each)", AllowMultipleArgumentsPerToken = false }
                : new Option<string>(optionName) { Description = description };
            // [AllowedValues] lists what the member takes: shown in the help and offered by completion.
            if (property.GetCustomAttribute<AllowedValuesAttribute>() is { } allowed)
            {
                var values = allowed.Values.Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!).ToArray();
                option.HelpName = string.Join('|', values);
                option.CompletionSources.Add(values);
            }
            _members.Add(new Member(option, path, memberType));
        }
    }

    private static bool IsList(Type type) => type != typeof(string) && typeof(IEnumerable<string>).IsAssignableFrom(type);

    /// <summary><c>storageGB</c> → <c>storage-gb</c>, <c>sshAuthorizedKeys</c> → <c>ssh-authorized-keys</c>.</summary>
    public static string Kebab(string name)
    {
        var text = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0 && char.IsLower(name[i - 1]))
                text.Append('-');
            text.Append(char.ToLowerInvariant(name[i]));
        }
        return text.ToString();
    }

    /// <summary>The data the options given make, as the API would receive it (absent options are absent members).</summary>
    public JsonObject Read(ParseResult parse)
    {
        var data = new JsonObject();
        foreach (var member in _members.Where(m => parse.GetResult(m.Option) is not null))
        {
            var parent = data;
            foreach (var name in member.Path[..^1])
                parent = (JsonObject)(parent[name] ??= new JsonObject());
            parent[member.Path[^1]] = member.Option switch
            {
                Option<bool> flag => JsonValue.Create(parse.GetValue(flag)),
                Option<string[]> list => new JsonArray([.. (parse.GetValue(list) ?? []).Select(v => (JsonNode?)JsonValue.Create(v))]),
                Option<string> scalar => Scalar(parse.GetValue(scalar) ?? "", member.Type),
                _ => throw new InvalidOperationException($"No reader for {member.Option.Name}."),
            };
        }
        return data;
    }

    /// <summary>
    /// A number where the member takes one and the text is one; otherwise the text, which the record's rules then refuse with the
    /// API's own message (<c>--cpu two</c>: "must be an integer from 1 to 64").
    /// </summary>
    private static JsonNode Scalar(string text, Type type)
    {
        var numeric = type == typeof(int) || type == typeof(long) || type == typeof(MemorySize);
        return numeric && long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number)
            ? JsonValue.Create(number)
            : JsonValue.Create(text);
    }

    /// <summary>Every problem of the data, as the API would report it, with the option to change; empty when it is valid.</summary>
    public IReadOnlyList<string> Validate(JsonObject data)
    {
        var byPath = _members.ToDictionary(m => "data." + string.Join('.', m.Path), m => m.Option.Name, StringComparer.Ordinal);
        var problems = new List<string>();
        ActionData.Read(Record, JsonSerializer.SerializeToElement(data), (field, message) =>
            problems.Add(byPath.TryGetValue(field, out var option) ? $"{option} ({field}): {message}" : $"{field}: {message}"));
        return problems;
    }
}
