using System.Text.RegularExpressions;

namespace Orleans.Batch.Grains.Resources.Users;

/// <summary>A practical email check: one @, a non-empty local part, a dotted domain of letters, digits and hyphens.</summary>
public static partial class EmailAddress
{
    public static bool IsValid(string email) => Pattern().IsMatch(email);

    [GeneratedRegex(@"^[^@\s""(),:;<>\[\]\\]{1,64}@(?=.{1,253}\z)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
