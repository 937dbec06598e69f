using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OpenHvx.Contracts.Actions;

/// <summary>
/// Reads an action's data into its record and checks it, reporting every problem at once, keyed by JSON path (<c>data.cloudInit.user</c>):
/// members the record does not have, values of the wrong type (each with its rule's message), then the DataAnnotations rules of the
/// members read and the record's own <see cref="IValidatableObject"/> rules. JSON null counts as absent.
/// </summary>
public static class ActionData
{
    /// <summary>camelCase members, as everywhere in the API; the records' metadata comes from System.Text.Json's own contract.</summary>
    public static readonly JsonSerializerOptions Json = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
            // The Web defaults read "2" as 2: a string is not a number here.
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict,
        };
        options.MakeReadOnly();
        return options;
    }

    /// <summary>The record, or null when <paramref name="error"/> was called at least once.</summary>
    public static T? Read<T>(JsonElement data, Action<string, string> error, string path = "data") where T : class
        => Read(typeof(T), data, error, path) as T;

    public static object? Read(Type type, JsonElement data, Action<string, string> error, string path = "data")
    {
        var failed = false;
        var value = ReadObject(type, data, (field, message) =>
        {
            failed = true;
            error(field, message);
        }, path);
        return failed ? null : value;
    }

    /// <summary>Data that <see cref="Read"/> accepted (a stored task's), as its record.</summary>
    public static T Of<T>(JsonElement data) where T : class => data.Deserialize<T>(Json) ?? throw new JsonException($"No {typeof(T).Name} in the data.");

    /// <summary>The members of a data record as the API names them, with the CLR property behind each.</summary>
    public static IEnumerable<(string Name, PropertyInfo Property, JsonPropertyInfo Json)> MembersOf(Type type)
        => Json.GetTypeInfo(type).Properties.Select(p => (p.Name, (PropertyInfo)p.AttributeProvider!, p));

    /// <summary>A member whose type is itself a record of members (read member by member), not a value or a list.</summary>
    public static bool IsRecord(Type type)
        => !type.IsValueType && type != typeof(string) && Json.GetTypeInfo(type).Kind == JsonTypeInfoKind.Object;

    private static object? ReadObject(Type type, JsonElement data, Action<string, string> error, string path)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            error(path, "must be an object");
            return null;
        }
        var info = Json.GetTypeInfo(type);
        var members = info.Properties.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var instance = info.CreateObject!();
        var broken = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in data.EnumerateObject())
        {
            var field = path + "." + member.Name;
            if (!members.TryGetValue(member.Name, out var property))
            {
                error(field, "unknown field");
                continue;
            }
            if (member.Value.ValueKind == JsonValueKind.Null)
                continue;
            var memberType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            object? value;
            if (IsRecord(memberType))
            {
                var nestedFailed = false;
                value = ReadObject(memberType, member.Value, (f, m) =>
                {
                    nestedFailed = true;
                    error(f, m);
                }, field);
                if (nestedFailed)
                {
                    broken.Add(property.Name);
                    continue;
                }
            }
            else if (!TryConvert(member.Value, property.PropertyType, out value))
            {
                broken.Add(property.Name);
                error(field, TypeMessage(property));
                continue;
            }
            property.Set!(instance, value);
        }
        if (broken.Count > 0)
        {
            // The rules of the members that were read still apply, so that every problem is reported at once.
            CheckMembers(info, instance, data, error, path, broken);
            return null;
        }
        return CheckMembers(info, instance, data, error, path, broken) ? instance : null;
    }

    /// <returns>true when every rule holds</returns>
    private static bool CheckMembers(JsonTypeInfo info, object instance, JsonElement data, Action<string, string> error, string path, HashSet<string> broken)
    {
        var valid = true;
        var context = new ValidationContext(instance);
        foreach (var property in info.Properties)
        {
            if (broken.Contains(property.Name))
                continue;
            var clr = (PropertyInfo)property.AttributeProvider!;
            var value = clr.GetValue(instance);
            // An absent member breaks only [Required]; the other rules are about the values given.
            foreach (var rule in clr.GetCustomAttributes<ValidationAttribute>().Where(r => value is not null || r is RequiredAttribute))
            {
                context.MemberName = clr.Name;
                if (rule.GetValidationResult(value, context) is { } result && result != ValidationResult.Success)
                {
                    error(path + "." + property.Name, result.ErrorMessage ?? "is not valid");
                    valid = false;
                    break;
                }
            }
        }
        if (!valid || broken.Count > 0)
            return valid;
        context.MemberName = null;
        foreach (var rule in info.Type.GetCustomAttributes(typeof(ValidationAttribute), inherit: true).Cast<ValidationAttribute>())
        {
            if (rule.GetValidationResult(instance, context) is { } result && result != ValidationResult.Success)
            {
                error(path, result.ErrorMessage ?? "is not valid");
                return false;
            }
        }
        if (instance is not IValidatableObject self)
            return true;
        var names = info.Properties.ToDictionary(p => ((PropertyInfo)p.AttributeProvider!).Name, p => p.Name, StringComparer.Ordinal);
        foreach (var result in self.Validate(context))
        {
            var members = result.MemberNames.ToList();
            if (members.Count == 0)
                error(path, result.ErrorMessage ?? "is not valid");
            foreach (var member in members)
                error(path + "." + (names.TryGetValue(member, out var name) ? name : member), result.ErrorMessage ?? "is not valid");
            valid = false;
        }
        return valid;
    }

    private static bool TryConvert(JsonElement element, Type type, out object? value)
    {
        value = null;
        try
        {
            value = element.Deserialize(type, Json);
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or NotSupportedException or OverflowException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>A value of the wrong type breaks the member's first rule: its message says what the member takes.</summary>
    private static string TypeMessage(JsonPropertyInfo property)
    {
        var clr = (PropertyInfo)property.AttributeProvider!;
        if (clr.GetCustomAttributes<ValidationAttribute>().FirstOrDefault(a => a is not RequiredAttribute) is { } rule)
            return rule.FormatErrorMessage(property.Name);
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        return type == typeof(bool) ? "must be true or false"
            : type == typeof(int) || type == typeof(long) ? "must be an integer"
            : type == typeof(string) ? "must be a string"
            : typeof(IEnumerable<string>).IsAssignableFrom(type) ? "must be an array of strings"
            : "is not valid";
    }
}
