using System.Text.RegularExpressions;

namespace Orleans.Batch.Grains.Resources.Users;

/// <summary>
/// A practical email check: one @, a non-empty local part, a dotted domain of letters, digits and hyphens. The local part
/// holds no invisible characters (controls, format characters such as a byte-order mark or zero-width space, separators),
/// which would make two addresses that look alike differ.
/// </summary>
public static partial class EmailAddress
{
    public static bool IsValid(string email) => Pattern().IsMatch(email);

    [GeneratedRegex(@"^[^@\s\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Z}""(),:;<>\[\]\\]{1,64}@(?=.{1,253}\z)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
