// Example of the esbyt C# binding: checks a card's bonus balance, writes 10 bonuses
// off and checks the balance again. Usage: Example.exe BASE_URL [SUPPLIER [CARD]],
// where SUPPLIER defaults to 1111 and CARD to 2700009601205, the test values of the
// partner's test server.
//
// On success prints "account A", "balance N", "spend_id S" and "balance N" on stdout,
// one per line, and exits 0. On failure prints the status and the message on stderr
// and exits 1, or 3 when the write-off may or may not have been executed. Wrong
// arguments exit 2.

using System;
using System.Globalization;
using System.IO;
using System.Text;
using Esbyt;

internal static class Example
{
    private const long WriteOffAmount = 10;
    private const int ExitFailed = 1;
    private const int ExitUsage = 2;
    private const int ExitOutcomeUnknown = 3;

    private static int Main(string[] args)
    {
        if (args.Length < 1 || args.Length > 3)
        {
            Console.Error.WriteLine("usage: Example.exe BASE_URL [SUPPLIER [CARD]]");
            return ExitUsage;
        }
        string url = args[0];
        long supplier = args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 1111;
        string card = args.Length > 2 ? args[2] : "2700009601205";

        // Server messages are Russian, so print UTF-8 whatever the console's code page.
        var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true };
        var errors = new StreamWriter(Console.OpenStandardError(), new UTF8Encoding(false)) { AutoFlush = true };

        // On Windows, loads x86\esbyt.dll or x64\esbyt.dll next to the program;
        // elsewhere it does nothing.
        EsbytNative.Preload(AppDomain.CurrentDomain.BaseDirectory);

        var options = new EsbytOptions
        {
            Url = url,
            Supplier = supplier,
            // Plain HTTP sends card numbers unencrypted, so the library rejects an
            // http:// URL unless it is allowed. Only the test server and the emulator use it.
            AllowHttp = url.StartsWith("http://", StringComparison.OrdinalIgnoreCase),
        };
        try
        {
            using (var client = new EsbytClient(options))
            {
                Balance balance = client.CheckBonus(card);
                output.WriteLine("account " + balance.Account);
                output.WriteLine("balance " + balance.Amount);

                WriteOff writeOff = client.SpendBonus(card, WriteOffAmount);
                output.WriteLine("spend_id " + writeOff.SpendId);

                output.WriteLine("balance " + client.CheckBonus(card).Amount);
            }
            return 0;
        }
        catch (EsbytOutcomeUnknownException exception)
        {
            PrintError(errors, exception);
            errors.WriteLine(
                "WARNING: the write-off may have been executed (cause " + EsbytClient.GetStatusName(exception.Cause)
                + "). Do not resend it: reconcile it first, for example by checking the balance or asking the "
                + "programme's support.");
            return ExitOutcomeUnknown;
        }
        catch (EsbytException exception)
        {
            PrintError(errors, exception);
            return ExitFailed;
        }
    }

    private static void PrintError(TextWriter errors, EsbytException exception)
    {
        errors.WriteLine(EsbytClient.GetStatusName(exception.Status) + ": " + exception.Message);
        if (exception.ServerCode != 0)
        {
            errors.WriteLine("server_code " + exception.ServerCode);
        }
        if (exception.HttpStatus != 0)
        {
            errors.WriteLine("http_status " + exception.HttpStatus);
        }
    }
}
