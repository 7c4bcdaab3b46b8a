// Test program of the C# binding, compiled together with Esbyt.cs so that it can reach
// the binding's internals. tests/csharp.rs builds it with mcs, runs one scenario per
// run against an emulator on 127.0.0.1, and asserts on what it prints.
//
// Usage: BindingTest.exe SCENARIO [ARGUMENT...]. The scenarios and their arguments:
//   layout
//   balance|spend|server_errors|threads|dispose BASE_URL
//   invalid_input|outcome_unknown BASE_URL JOURNAL_FILE
//   logging BASE_URL LOG_FILE
//   config_file GOOD_TOML_FILE BAD_TOML_FILE
//
// Each result is one line "KEY VALUE", with KEY free of spaces and VALUE the rest of
// the line, printed as UTF-8. The last line is "done SCENARIO". An unexpected exception
// goes to stderr and exits 1, and a wrong command line exits 2.

using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace Esbyt.Tests
{
    internal static class BindingTest
    {
        private const string TestCard = "2700009601205";
        private const string LeadingZerosCard = "2700009601212";
        private const string LargeBalanceCard = "2700009601236";
        private const string UnknownCard = "2700009601999";
        private const string DelayFaultCard = "2700009609010";
        private const string CloseAfterExecuteFaultCard = "2700009609027";
        private const string Windows1251FaultCard = "2700009609096";
        private const long Supplier = 1111;

        private const int ThreadCount = 8;
        private const int ChecksPerThread = 20;
        private const int SpendsPerThread = 5;

        /// <summary>Outcome-unknown write-offs of the journal scenario, more than the binding's first array of 16.</summary>
        private const int PendingAttempts = 20;

        private static TextWriter output;

        private static int Main(string[] args)
        {
            output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            output.NewLine = "\n";
            if (args.Length < 1)
            {
                Console.Error.WriteLine("usage: BindingTest.exe SCENARIO [ARGUMENT...]");
                return 2;
            }
            string scenario = args[0];
            string baseUrl = args.Length > 1 ? args[1] : null;
            string secondArgument = args.Length > 2 ? args[2] : null;
            try
            {
                switch (scenario)
                {
                    case "layout":
                        Layout();
                        break;
                    case "balance":
                        CheckBalances(baseUrl);
                        break;
                    case "spend":
                        WriteOff(baseUrl);
                        break;
                    case "server_errors":
                        ServerErrors(baseUrl);
                        break;
                    case "invalid_input":
                        InvalidInput(baseUrl, secondArgument);
                        break;
                    case "outcome_unknown":
                        OutcomeUnknownAndJournal(baseUrl, secondArgument);
                        break;
                    case "threads":
                        SharedByThreads(baseUrl);
                        break;
                    case "dispose":
                        Disposal(baseUrl);
                        break;
                    case "logging":
                        Logging(baseUrl, secondArgument);
                        break;
                    case "config_file":
                        ConfigurationFile(args[1], secondArgument);
                        break;
                    default:
                        Console.Error.WriteLine("unknown scenario " + scenario);
                        return 2;
                }
                Report("done", scenario);
                return 0;
            }
            catch (Exception exception)
            {
                output.Flush();
                Console.Error.WriteLine("unexpected exception in scenario " + scenario + ": " + exception);
                return 1;
            }
            finally
            {
                output.Flush();
            }
        }

        private static void Report(string key, object value)
        {
            output.WriteLine(key + " " + value);
        }

        /// <summary>Prints every field of an exception, each under the key prefix.</summary>
        private static void ReportException(string prefix, Exception exception)
        {
            if (exception == null)
            {
                Report(prefix + ".type", "none");
                return;
            }
            Report(prefix + ".type", exception.GetType().Name);
            var esbytException = exception as EsbytException;
            if (esbytException != null)
            {
                Report(prefix + ".status", esbytException.Status);
                Report(prefix + ".cause", esbytException.Cause);
                Report(prefix + ".server_code", esbytException.ServerCode);
                Report(prefix + ".http_status", esbytException.HttpStatus);
                Report(prefix + ".detail", esbytException.Detail);
                Report(prefix + ".attempt_id", esbytException.AttemptId ?? "-");
            }
            Report(prefix + ".message", exception.Message.Replace('\n', ' '));
        }

        /// <summary>Runs an action that should throw and returns the exception, or null.</summary>
        private static Exception Catch(Action action)
        {
            try
            {
                action();
                return null;
            }
            catch (Exception exception)
            {
                return exception;
            }
        }

        private static EsbytClient CreateClient(string baseUrl)
        {
            return new EsbytClient(new EsbytOptions { Url = baseUrl, Supplier = Supplier, AllowHttp = true });
        }

        /// <summary>Prints sizes, field offsets and constants of the binding, and the loaded library's versions.</summary>
        private static void Layout()
        {
            ReportLayout("esbyt_error", typeof(NativeError));
            ReportLayout("esbyt_balance", typeof(NativeBalance));
            ReportLayout("esbyt_write_off", typeof(NativeWriteOff));
            ReportLayout("esbyt_pending_spend", typeof(NativePendingSpend));

            ReportConstants(typeof(EsbytStatus), "ESBYT_");
            ReportConstants(typeof(EsbytDetail), "ESBYT_DETAIL_");
            ReportConstants(typeof(EsbytPendingState), "ESBYT_PENDING_");
            ReportConstants(typeof(EsbytLogLevel), "ESBYT_LOG_");
            Report("constant.ESBYT_MESSAGE_SIZE", EsbytNative.MessageSize);
            Report("constant.ESBYT_TEXT_SIZE", EsbytNative.TextSize);
            Report("constant.ESBYT_ABI_VERSION", EsbytNative.BindingAbiVersion);

            foreach (EsbytStatus status in Enum.GetValues(typeof(EsbytStatus)))
            {
                Report("status_name." + ConstantName("ESBYT_", status.ToString()), EsbytClient.GetStatusName(status));
            }
            Report("status_description.ESBYT_SERVER", EsbytClient.GetStatusDescription(EsbytStatus.Server));
            Report("library.version", EsbytClient.Version);
            Report("library.abi_version", EsbytClient.AbiVersion);
            EsbytNative.EnsureCompatible();
            Report("library.compatible", "yes");
            Report("preload.result", EsbytNative.Preload(AppDomain.CurrentDomain.BaseDirectory) ?? "not-windows");
        }

        private static void ReportLayout(string cName, Type type)
        {
            Report("size." + cName, Marshal.SizeOf(type));
            foreach (FieldInfo field in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                Report("offset." + cName + "." + field.Name, Marshal.OffsetOf(type, field.Name).ToInt64());
            }
        }

        private static void ReportConstants(Type enumType, string prefix)
        {
            foreach (string name in Enum.GetNames(enumType))
            {
                object value = Convert.ToInt32(Enum.Parse(enumType, name));
                Report("constant." + ConstantName(prefix, name), value);
            }
        }

        /// <summary>Converts an enum member such as OutcomeUnknown to its C constant, ESBYT_OUTCOME_UNKNOWN.</summary>
        private static string ConstantName(string prefix, string memberName)
        {
            var name = new StringBuilder(prefix);
            for (int index = 0; index < memberName.Length; index++)
            {
                char character = memberName[index];
                if (index > 0 && char.IsUpper(character))
                {
                    name.Append('_');
                }
                name.Append(char.ToUpperInvariant(character));
            }
            return name.ToString();
        }

        private static void CheckBalances(string baseUrl)
        {
            using (EsbytClient client = CreateClient(baseUrl))
            {
                Balance balance = client.CheckBonus(TestCard);
                Report("balance.account", balance.Account);
                Report("balance.bonus_id", balance.BonusId);
                Report("balance.amount", balance.Amount);

                Report("balance_leading_zeros.account", client.CheckBonus(LeadingZerosCard).Account);
                Report("balance_large.amount", client.CheckBonus(LargeBalanceCard).Amount);
                // A barcode scanner appends CR/LF, which the library trims.
                Report("balance_scanner.amount", client.CheckBonus(TestCard + "\r\n").Amount);
            }
        }

        private static void WriteOff(string baseUrl)
        {
            using (EsbytClient client = CreateClient(baseUrl))
            {
                WriteOff writeOff = client.SpendBonus(TestCard, 10);
                Report("spend.spend_id", writeOff.SpendId);
                Report("spend.attempt_id", writeOff.AttemptId ?? "-");
                Report("spend.balance_after", client.CheckBonus(TestCard).Amount);
            }
        }

        private static void ServerErrors(string baseUrl)
        {
            using (EsbytClient client = CreateClient(baseUrl))
            {
                ReportException("unknown_card", Catch(() => client.CheckBonus(UnknownCard)));
                ReportException("windows_1251", Catch(() => client.CheckBonus(Windows1251FaultCard)));
            }
            var otherSupplier = new EsbytOptions { Url = baseUrl, Supplier = 2222, AllowHttp = true };
            using (var client = new EsbytClient(otherSupplier))
            {
                ReportException("refused_spend", Catch(() => client.SpendBonus(TestCard, 10)));
            }
        }

        private static void InvalidInput(string baseUrl, string journalFile)
        {
            using (EsbytClient client = CreateClient(baseUrl))
            {
                ReportException("invalid_bonus_id", Catch(() => client.CheckBonus("27000O9601205")));
                ReportException("null_bonus_id", Catch(() => client.CheckBonus(null)));
                ReportException("nul_in_bonus_id", Catch(() => client.CheckBonus(TestCard + "\0" + "1")));
                ReportException("lone_surrogate", Catch(() => client.CheckBonus("\ud800")));
                ReportException("zero_amount", Catch(() => client.SpendBonus(TestCard, 0)));
                ReportException("amount_too_large", Catch(() => client.SpendBonus(TestCard, 2147483648L)));
                ReportException("no_journal", Catch(() => client.PendingSpends()));
            }

            ReportException("unknown_setting", Catch(() =>
                new EsbytClient(new EsbytOptions { Url = baseUrl, AllowHttp = true }.Set("no_such_setting", "1"))));
            ReportException("timeout_out_of_range", Catch(() =>
                new EsbytClient(new EsbytOptions { Url = baseUrl, AllowHttp = true, TimeoutMs = 0 })));
            ReportException("missing_url", Catch(() => new EsbytClient(new EsbytOptions())));
            ReportException("http_not_allowed", Catch(() => new EsbytClient(new EsbytOptions { Url = baseUrl })));
            ReportException("null_options", Catch(() => new EsbytClient(null)));

            using (var client = new EsbytClient(new EsbytOptions { Url = baseUrl, AllowHttp = true }))
            {
                ReportException("no_supplier", Catch(() => client.SpendBonus(TestCard, 10)));
            }
            var journalOptions = new EsbytOptions { Url = baseUrl, AllowHttp = true, JournalFile = journalFile };
            using (var client = new EsbytClient(journalOptions))
            {
                ReportException("unknown_attempt", Catch(() => client.ResolveSpend("1-2-3", "note")));
            }
        }

        private static void OutcomeUnknownAndJournal(string baseUrl, string journalFile)
        {
            var options = new EsbytOptions
            {
                Url = baseUrl,
                Supplier = Supplier,
                AllowHttp = true,
                JournalFile = journalFile,
            };
            using (var client = new EsbytClient(options))
            {
                Report("pending.count_before", client.PendingSpends().Count);

                // The fault card executes the write-off, then closes the connection
                // without a response.
                Exception first = Catch(() => client.SpendBonus(CloseAfterExecuteFaultCard, 10));
                ReportException("outcome_unknown", first);
                Report("outcome_unknown.is_esbyt_exception", first is EsbytException ? "yes" : "no");
                string firstAttemptId = ((EsbytException)first).AttemptId;

                IList<PendingSpend> pending = client.PendingSpends();
                Report("pending.count", pending.Count);
                PendingSpend spend = pending[0];
                Report("pending.0.attempt_id_matches", spend.AttemptId == firstAttemptId ? "yes" : "no");
                Report("pending.0.bonus_id", spend.BonusId);
                Report("pending.0.amount", spend.Amount);
                Report("pending.0.supplier", spend.Supplier);
                Report("pending.0.state", spend.State);
                Report("pending.0.cause", spend.Cause);
                TimeSpan age = DateTime.UtcNow - spend.Time;
                Report("pending.0.recorded_recently", age.TotalMinutes >= -1 && age.TotalMinutes < 10 ? "yes" : "no");

                for (int attempt = 1; attempt < PendingAttempts; attempt++)
                {
                    Exception exception = Catch(() => client.SpendBonus(CloseAfterExecuteFaultCard, 10));
                    if (!(exception is EsbytOutcomeUnknownException))
                    {
                        ReportException("unexpected_spend_result", exception);
                    }
                }

                pending = client.PendingSpends();
                Report("pending.count_after_more", pending.Count);
                var attemptIds = new HashSet<string>();
                int outcomeUnknown = 0;
                foreach (PendingSpend item in pending)
                {
                    attemptIds.Add(item.AttemptId);
                    if (item.State == EsbytPendingState.OutcomeUnknown && item.Cause == EsbytStatus.Connection)
                    {
                        outcomeUnknown++;
                    }
                }
                Report("pending.distinct_attempt_ids", attemptIds.Count);
                Report("pending.outcome_unknown_with_cause_connection", outcomeUnknown);

                foreach (PendingSpend item in pending)
                {
                    client.ResolveSpend(item.AttemptId, "баланс проверен: списано");
                }
                Report("pending.count_after_resolve", client.PendingSpends().Count);
                ReportException("resolve_twice", Catch(() => client.ResolveSpend(firstAttemptId, null)));
            }
        }

        private static void SharedByThreads(string baseUrl)
        {
            using (EsbytClient client = CreateClient(baseUrl))
            {
                int checks = 0;
                int wrongBalances = 0;
                int failures = 0;
                var spendIds = new List<string>();
                var threads = new List<Thread>();
                for (int index = 0; index < ThreadCount; index++)
                {
                    var thread = new Thread(() =>
                    {
                        for (int call = 0; call < ChecksPerThread + SpendsPerThread; call++)
                        {
                            try
                            {
                                if (call % 5 == 4)
                                {
                                    string spendId = client.SpendBonus(LeadingZerosCard, 1).SpendId;
                                    lock (spendIds)
                                    {
                                        spendIds.Add(spendId);
                                    }
                                }
                                else
                                {
                                    if (client.CheckBonus(TestCard).Amount != 500)
                                    {
                                        Interlocked.Increment(ref wrongBalances);
                                    }
                                    Interlocked.Increment(ref checks);
                                }
                            }
                            catch (EsbytException exception)
                            {
                                Interlocked.Increment(ref failures);
                                lock (spendIds)
                                {
                                    Console.Error.WriteLine("call failed on a thread: " + exception.Status + ": " + exception.Message);
                                }
                            }
                        }
                    });
                    threads.Add(thread);
                    thread.Start();
                }
                foreach (Thread thread in threads)
                {
                    thread.Join();
                }

                Report("threads.checks", checks);
                Report("threads.wrong_balances", wrongBalances);
                Report("threads.failures", failures);
                Report("threads.spends", spendIds.Count);
                Report("threads.distinct_spend_ids", new HashSet<string>(spendIds).Count);
            }
        }

        private static void Disposal(string baseUrl)
        {
            EsbytClient client = CreateClient(baseUrl);
            Report("dispose.check_before", client.CheckBonus(TestCard).Amount);
            ClientHandle handle = client.Handle;
            IntPtr rawHandle = handle.DangerousGetHandle();
            client.Dispose();

            ReportException("dispose.check_after", Catch(() => client.CheckBonus(TestCard)));
            ReportException("dispose.spend_after", Catch(() => client.SpendBonus(TestCard, 10)));
            ReportException("dispose.pending_after", Catch(() => client.PendingSpends()));
            ReportException("dispose.resolve_after", Catch(() => client.ResolveSpend("1-2-3", null)));
            ReportException("dispose.second_dispose", Catch(() => client.Dispose()));

            // Past the binding's own check, the marshaller rejects a closed SafeHandle.
            ReportException("dispose.marshaller", Catch(() =>
            {
                NativeBalance balance;
                NativeError error;
                EsbytNative.esbyt_check_bonus(handle, Utf8.Encode(TestCard, "bonus_id"), out balance, out error);
            }));
            // The library rejects a handle it already freed, so this shows that Dispose freed it.
            Report("dispose.free_again_status", (EsbytStatus)EsbytNative.esbyt_client_free(rawHandle));

            DisposeDuringCall(baseUrl);
            FreeByFinalizer(baseUrl);
        }

        private static void Logging(string baseUrl, string logFile)
        {
            var records = new List<KeyValuePair<EsbytLogLevel, string>>();
            EsbytLog.SetHandler(
                (level, message) =>
                {
                    lock (records)
                    {
                        records.Add(new KeyValuePair<EsbytLogLevel, string>(level, message));
                    }
                },
                EsbytLogLevel.Info);
            using (EsbytClient client = CreateClient(baseUrl))
            {
                Report("log.check", client.CheckBonus(TestCard).Amount);
                lock (records)
                {
                    Report("log.records", records.Count);
                    EsbytLogLevel maxLevel = EsbytLogLevel.Off;
                    bool masked = false;
                    bool full = false;
                    foreach (KeyValuePair<EsbytLogLevel, string> record in records)
                    {
                        maxLevel = record.Key > maxLevel ? record.Key : maxLevel;
                        masked |= record.Value.Contains("2700******205");
                        full |= record.Value.Contains(TestCard);
                    }
                    Report("log.max_level", maxLevel);
                    Report("log.masked_card_number", masked ? "yes" : "no");
                    Report("log.full_card_number", full ? "yes" : "no");
                }

                EsbytLog.SetHandler((level, message) => { throw new InvalidOperationException("handler failed"); }, EsbytLogLevel.Trace);
                Report("log.throwing_handler_check", client.CheckBonus(TestCard).Amount);

                EsbytLog.SetHandler(null, EsbytLogLevel.Info);
                int countBefore;
                lock (records)
                {
                    countBefore = records.Count;
                }
                client.CheckBonus(TestCard);
                lock (records)
                {
                    Report("log.records_after_removal", records.Count - countBefore);
                }
            }

            var options = new EsbytOptions
            {
                Url = baseUrl,
                AllowHttp = true,
                LogFile = logFile,
                LogLevel = EsbytLogLevel.Info,
                LogMaxBytes = 1048576,
                LogMaxFiles = 2,
            };
            using (var client = new EsbytClient(options))
            {
                Report("log_file.check", client.CheckBonus(TestCard).Amount);
            }
        }

        private static void ConfigurationFile(string goodFile, string badFile)
        {
            using (var client = new EsbytClient(new EsbytOptions { ConfigFile = goodFile }))
            {
                Report("config_file.check", client.CheckBonus(TestCard).Amount);
                Report("config_file.spend_id", client.SpendBonus(TestCard, 10).SpendId);
            }
            // A property overrides the file's supplier code 1111.
            using (var client = new EsbytClient(new EsbytOptions { ConfigFile = goodFile, Supplier = 2222 }))
            {
                ReportException("config_file.supplier_overridden", Catch(() => client.SpendBonus(TestCard, 10)));
            }
            ReportException("config_file.bad", Catch(() => new EsbytClient(new EsbytOptions { ConfigFile = badFile })));
        }

        /// <summary>Disposes a client while another thread waits for a slow response.</summary>
        private static void DisposeDuringCall(string baseUrl)
        {
            var options = new EsbytOptions { Url = baseUrl, AllowHttp = true, TimeoutMs = 10000 };
            var client = new EsbytClient(options);
            IntPtr rawHandle = client.Handle.DangerousGetHandle();
            string result = "not finished";
            var calling = new ManualResetEvent(false);
            // The emulator sends the response for this card after 3 s.
            var caller = new Thread(() =>
            {
                try
                {
                    calling.Set();
                    result = client.CheckBonus(DelayFaultCard).Amount.ToString();
                }
                catch (Exception exception)
                {
                    result = exception.GetType().Name + ": " + exception.Message;
                }
            });
            caller.Start();
            calling.WaitOne();
            // Leaves the call 1 s to reach the library and 2 s before the response.
            Thread.Sleep(1000);
            client.Dispose();
            // The running call holds a reference, so the handle stays open until it returns.
            Report("dispose.in_flight_handle_closed", client.Handle.IsClosed ? "yes" : "no");
            ReportException("dispose.in_flight_new_call", Catch(() => client.CheckBonus(TestCard)));
            caller.Join();
            Report("dispose.in_flight_result", result);
            Report("dispose.in_flight_handle_closed_after_return", client.Handle.IsClosed ? "yes" : "no");
            Report("dispose.in_flight_free_again_status", (EsbytStatus)EsbytNative.esbyt_client_free(rawHandle));
        }

        /// <summary>Drops a client without Dispose and checks that its finalizer freed it.</summary>
        private static void FreeByFinalizer(string baseUrl)
        {
            // Mono scans stacks conservatively, so the client is created on a thread
            // that ends, leaving no stale reference on a live stack.
            IntPtr rawHandle = IntPtr.Zero;
            var creator = new Thread(() => rawHandle = CreateAndDropClient(baseUrl));
            creator.Start();
            creator.Join();
            for (int round = 0; round < 3; round++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
            Report("dispose.finalizer_free_again_status", (EsbytStatus)EsbytNative.esbyt_client_free(rawHandle));
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static IntPtr CreateAndDropClient(string baseUrl)
        {
            EsbytClient client = CreateClient(baseUrl);
            return client.Handle.DangerousGetHandle();
        }
    }
}
