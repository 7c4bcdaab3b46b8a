// C# binding of libesbyt, the client of the bonus programme of AO "Chitaenergosbyt".
//
// One source file without dependencies. It compiles for .NET Framework 4.0 and newer
// (C# 6) and for .NET 6 and newer. It calls the C ABI of include/esbyt.h through
// P/Invoke: every export is cdecl, and strings cross as NUL-terminated UTF-8 byte
// arrays. The records are sequential structs, and the tests compare their sizes and
// field offsets with the C header. bindings/csharp/README.md describes loading and shipping.
//
// Compile it into the host's assembly, or into one named other than esbyt.dll, such as
// Esbyt.Net.dll: Windows file names ignore case, so a managed Esbyt.dll would take the
// native library's file name.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace Esbyt
{
    /// <summary>Status of a call, with the numbers of the ESBYT_* constants of esbyt.h.</summary>
    public enum EsbytStatus
    {
        /// <summary>Success.</summary>
        Ok = 0,

        /// <summary>An unusable argument, such as a bad card number or an unknown setting. Nothing was sent.</summary>
        InvalidArgument = 1,

        /// <summary>An unusable configuration: URL, certificate files, proxy, missing supplier code or journal. Nothing was sent.</summary>
        Config = 2,

        /// <summary>DNS, TCP or the proxy failed. A write-off was not sent, so trying again is safe.</summary>
        Connection = 3,

        /// <summary>The TLS handshake failed. <see cref="EsbytException.Detail"/> names the cause.</summary>
        Tls = 4,

        /// <summary>The deadline passed. For a write-off, it passed before the request was sent.</summary>
        Timeout = 5,

        /// <summary>A non-2xx HTTP status without an error document. Only balance checks report it.</summary>
        Http = 6,

        /// <summary>The response is not a valid protocol document. Only balance checks report it.</summary>
        Protocol = 7,

        /// <summary>The server refused the operation. Nothing was written off.</summary>
        Server = 8,

        /// <summary>A write-off may or may not have been executed. Reconcile it before trying again.</summary>
        OutcomeUnknown = 9,

        /// <summary>A bug inside the library.</summary>
        Internal = 10,
    }

    /// <summary>Finer cause of a <see cref="EsbytStatus.Tls"/> failure, with the numbers of the ESBYT_DETAIL_* constants.</summary>
    public enum EsbytDetail
    {
        /// <summary>No finer cause.</summary>
        None = 0,

        /// <summary>The server certificate's CA is not trusted. Set ExtraCaFile or ServerCertSha256.</summary>
        TlsUnknownIssuer = 1,

        /// <summary>The server certificate does not name the URL's host.</summary>
        TlsNameMismatch = 2,

        /// <summary>The server certificate has expired.</summary>
        TlsCertificateExpired = 3,

        /// <summary>The server certificate is not valid yet. Check the clock.</summary>
        TlsCertificateNotYetValid = 4,

        /// <summary>The server rejected the client certificate or required one.</summary>
        TlsClientCertificateRejected = 5,

        /// <summary>No common TLS version or cipher suite. The library speaks TLS 1.2 and 1.3.</summary>
        TlsNoCommonProtocol = 6,

        /// <summary>The server certificate matches no ServerCertSha256 fingerprint.</summary>
        TlsPinMismatch = 7,

        /// <summary>The server does not speak TLS on this port.</summary>
        TlsNotTls = 8,

        /// <summary>Another TLS failure, named in the message.</summary>
        TlsOther = 9,
    }

    /// <summary>State of a journal attempt that must be reconciled, with the numbers of the ESBYT_PENDING_* constants.</summary>
    public enum EsbytPendingState
    {
        /// <summary>The attempt has no outcome because the process stopped during the call.</summary>
        NoOutcome = 1,

        /// <summary>The call ended in <see cref="EsbytStatus.OutcomeUnknown"/>.</summary>
        OutcomeUnknown = 2,
    }

    /// <summary>Level of a log record, with the numbers of the ESBYT_LOG_* constants.</summary>
    public enum EsbytLogLevel
    {
        /// <summary>No records; not a level of a record.</summary>
        Off = 0,

        /// <summary>An error the library handled, such as a failed call.</summary>
        Error = 1,

        /// <summary>Something unusual, such as an unreadable system CA store.</summary>
        Warn = 2,

        /// <summary>One line per balance check and write-off.</summary>
        Info = 3,

        /// <summary>Connection reuse, retries, TLS details.</summary>
        Debug = 4,

        /// <summary>Everything, including the HTTP and TLS libraries.</summary>
        Trace = 5,
    }

    /// <summary>
    /// Settings of an <see cref="EsbytClient"/>, one property for each setting of
    /// esbyt_config_set. A property left null keeps the library's default, or the
    /// value of <see cref="ConfigFile"/>.
    /// </summary>
    public sealed class EsbytOptions
    {
        private readonly List<KeyValuePair<string, string>> extraSettings = new List<KeyValuePair<string, string>>();

        /// <summary>
        /// TOML file with settings, read by esbyt_config_load_file together with the
        /// ESBYT_&lt;SETTING&gt; environment variables that override it. It is applied first,
        /// so the properties and <see cref="Set"/> override the file and the environment.
        /// </summary>
        public string ConfigFile { get; set; }

        /// <summary>Base URL of the bonus server, such as https://bonus.e-sbyt.ru:888/ (setting url). Required.</summary>
        public string Url { get; set; }

        /// <summary>Partner code from the contract, 1 to 2147483647 (setting supplier). Write-offs need it.</summary>
        public long? Supplier { get; set; }

        /// <summary>Time for DNS, TCP and TLS in milliseconds, 1 to 600000 (setting connect_timeout_ms; default 5000).</summary>
        public int? ConnectTimeoutMs { get; set; }

        /// <summary>Deadline of a whole call in milliseconds, 1 to 600000 (setting timeout_ms; default 15000).</summary>
        public int? TimeoutMs { get; set; }

        /// <summary>Maximum idle time in milliseconds of a reused kept-alive connection, 0 to 600000 (setting idle_timeout_ms; default 4000).</summary>
        public int? IdleTimeoutMs { get; set; }

        /// <summary>Maximum response size in bytes, 1024 to 16777216 (setting max_body_bytes; default 65536).</summary>
        public int? MaxBodyBytes { get; set; }

        /// <summary>PEM file of CA certificates trusted besides Mozilla's roots and the system's (setting extra_ca_file).</summary>
        public string ExtraCaFile { get; set; }

        /// <summary>Whether to trust the operating system's CA store (setting system_roots; default true).</summary>
        public bool? SystemRoots { get; set; }

        /// <summary>Comma-separated SHA-256 fingerprints of the accepted server certificates, which replace CA checks (setting server_cert_sha256).</summary>
        public string ServerCertSha256 { get; set; }

        /// <summary>The partner's client certificate and key as a .pfx or .p12 file (setting pkcs12_file).</summary>
        public string Pkcs12File { get; set; }

        /// <summary>Password of <see cref="Pkcs12File"/> (setting pkcs12_password).</summary>
        public string Pkcs12Password { get; set; }

        /// <summary>Client certificate as PEM, leaf first, then intermediates; it may also contain the key (setting client_cert_file).</summary>
        public string ClientCertFile { get; set; }

        /// <summary>Client key as PEM when it is not in <see cref="ClientCertFile"/> (setting client_key_file).</summary>
        public string ClientKeyFile { get; set; }

        /// <summary>Password of an encrypted PKCS#8 client key (setting client_key_password).</summary>
        public string ClientKeyPassword { get; set; }

        /// <summary>Whether a plain http:// URL is allowed, for the test server and the emulator (setting allow_http; default false).</summary>
        public bool? AllowHttp { get; set; }

        /// <summary>HTTP proxy URL such as http://proxy:3128 (setting proxy). Proxy environment variables are never read.</summary>
        public string Proxy { get; set; }

        /// <summary>File of the spend journal, which records every write-off attempt before it is sent (setting journal_file).</summary>
        public string JournalFile { get; set; }

        /// <summary>
        /// Log file of the process, rotated by size (setting log_file). It is process-wide:
        /// the last client created with it decides.
        /// </summary>
        public string LogFile { get; set; }

        /// <summary>Maximum level written to <see cref="LogFile"/> (setting log_level; default Info). The environment variable ESBYT_LOG_LEVEL overrides it.</summary>
        public EsbytLogLevel? LogLevel { get; set; }

        /// <summary>Size in bytes at which the log file is rotated, 4096 to 2^40 (setting log_max_bytes; default 10485760).</summary>
        public long? LogMaxBytes { get; set; }

        /// <summary>Number of rotated log files kept, 0 to 100 (setting log_max_files; default 5).</summary>
        public int? LogMaxFiles { get; set; }

        /// <summary>
        /// Sets a setting by its esbyt_config_set name, for settings that newer
        /// libraries add. These are applied after the properties, in call order, so
        /// they override a property of the same setting.
        /// </summary>
        public EsbytOptions Set(string name, string value)
        {
            if (name == null)
            {
                throw new ArgumentNullException("name");
            }
            extraSettings.Add(new KeyValuePair<string, string>(name, value));
            return this;
        }

        /// <summary>Returns the settings to pass to esbyt_config_set, in order, skipping null properties.</summary>
        internal List<KeyValuePair<string, string>> ToSettings()
        {
            var settings = new List<KeyValuePair<string, string>>();
            AddSetting(settings, "url", Url);
            AddSetting(settings, "supplier", FormatNumber(Supplier));
            AddSetting(settings, "connect_timeout_ms", FormatNumber(ConnectTimeoutMs));
            AddSetting(settings, "timeout_ms", FormatNumber(TimeoutMs));
            AddSetting(settings, "idle_timeout_ms", FormatNumber(IdleTimeoutMs));
            AddSetting(settings, "max_body_bytes", FormatNumber(MaxBodyBytes));
            AddSetting(settings, "extra_ca_file", ExtraCaFile);
            AddSetting(settings, "system_roots", FormatFlag(SystemRoots));
            AddSetting(settings, "server_cert_sha256", ServerCertSha256);
            AddSetting(settings, "pkcs12_file", Pkcs12File);
            AddSetting(settings, "pkcs12_password", Pkcs12Password);
            AddSetting(settings, "client_cert_file", ClientCertFile);
            AddSetting(settings, "client_key_file", ClientKeyFile);
            AddSetting(settings, "client_key_password", ClientKeyPassword);
            AddSetting(settings, "allow_http", FormatFlag(AllowHttp));
            AddSetting(settings, "proxy", Proxy);
            AddSetting(settings, "journal_file", JournalFile);
            AddSetting(settings, "log_file", LogFile);
            AddSetting(settings, "log_level", LogLevel.HasValue ? FormatNumber((int)LogLevel.Value) : null);
            AddSetting(settings, "log_max_bytes", FormatNumber(LogMaxBytes));
            AddSetting(settings, "log_max_files", FormatNumber(LogMaxFiles));
            settings.AddRange(extraSettings);
            return settings;
        }

        private static void AddSetting(List<KeyValuePair<string, string>> settings, string name, string value)
        {
            if (value != null)
            {
                settings.Add(new KeyValuePair<string, string>(name, value));
            }
        }

        private static string FormatNumber(long? value)
        {
            return value.HasValue ? value.Value.ToString(CultureInfo.InvariantCulture) : null;
        }

        private static string FormatFlag(bool? value)
        {
            if (!value.HasValue)
            {
                return null;
            }
            return value.Value ? "1" : "0";
        }
    }

    /// <summary>A participant's bonus balance.</summary>
    public sealed class Balance
    {
        internal Balance(string account, string bonusId, long amount)
        {
            Account = account;
            BonusId = bonusId;
            Amount = amount;
        }

        /// <summary>Personal account number. Text, because it can have leading zeros.</summary>
        public string Account { get; private set; }

        /// <summary>Card number as the server echoed it.</summary>
        public string BonusId { get; private set; }

        /// <summary>The bonus balance.</summary>
        public long Amount { get; private set; }
    }

    /// <summary>An executed write-off.</summary>
    public sealed class WriteOff
    {
        internal WriteOff(string spendId, string attemptId)
        {
            SpendId = spendId;
            AttemptId = attemptId;
        }

        /// <summary>Number of the write-off document to print on the receipt, leading zeros included.</summary>
        public string SpendId { get; private set; }

        /// <summary>Journal id of this attempt, or null when no journal file is set.</summary>
        public string AttemptId { get; private set; }
    }

    /// <summary>A write-off attempt of the spend journal that must be reconciled.</summary>
    public sealed class PendingSpend
    {
        private static readonly DateTime UnixEpoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        internal PendingSpend(
            string attemptId,
            string bonusId,
            long timeMs,
            long supplier,
            long amount,
            EsbytPendingState state,
            EsbytStatus cause)
        {
            AttemptId = attemptId;
            BonusId = bonusId;
            TimeMs = timeMs;
            Supplier = supplier;
            Amount = amount;
            State = state;
            Cause = cause;
        }

        /// <summary>Attempt id to pass to <see cref="EsbytClient.ResolveSpend"/>.</summary>
        public string AttemptId { get; private set; }

        /// <summary>Card number.</summary>
        public string BonusId { get; private set; }

        /// <summary>Time the attempt was recorded, in milliseconds since 1970-01-01 UTC.</summary>
        public long TimeMs { get; private set; }

        /// <summary>Time the attempt was recorded, in UTC.</summary>
        public DateTime Time
        {
            get { return UnixEpoch.AddMilliseconds(TimeMs); }
        }

        /// <summary>Partner code sent with the write-off.</summary>
        public long Supplier { get; private set; }

        /// <summary>Bonuses to write off.</summary>
        public long Amount { get; private set; }

        /// <summary>Whether the call had no outcome or ended in outcome unknown.</summary>
        public EsbytPendingState State { get; private set; }

        /// <summary>For <see cref="EsbytPendingState.OutcomeUnknown"/>, the status of the underlying failure; otherwise Ok.</summary>
        public EsbytStatus Cause { get; private set; }
    }

    /// <summary>
    /// A failed call. <see cref="Exception.Message"/> is the library's message, which names
    /// the value and the fix, or for <see cref="EsbytStatus.Server"/> the server's own text.
    /// </summary>
    public class EsbytException : Exception
    {
        /// <summary>Creates an exception with a status and a message and no other detail.</summary>
        public EsbytException(EsbytStatus status, string message)
            : this(status, message, 0, 0, EsbytStatus.Ok, EsbytDetail.None, null)
        {
        }

        /// <summary>Creates an exception with every field of the library's error record.</summary>
        public EsbytException(
            EsbytStatus status,
            string message,
            long serverCode,
            int httpStatus,
            EsbytStatus cause,
            EsbytDetail detail,
            string attemptId)
            : base(message)
        {
            Status = status;
            ServerCode = serverCode;
            HttpStatus = httpStatus;
            Cause = cause;
            Detail = detail;
            AttemptId = attemptId;
        }

        /// <summary>Status of the failed call.</summary>
        public EsbytStatus Status { get; private set; }

        /// <summary>The server's non-zero result code for <see cref="EsbytStatus.Server"/>, otherwise 0.</summary>
        public long ServerCode { get; private set; }

        /// <summary>HTTP status of the response when one arrived, otherwise 0.</summary>
        public int HttpStatus { get; private set; }

        /// <summary>For <see cref="EsbytStatus.OutcomeUnknown"/>, the status of the underlying failure; otherwise Ok.</summary>
        public EsbytStatus Cause { get; private set; }

        /// <summary>Finer cause of a TLS failure, otherwise None.</summary>
        public EsbytDetail Detail { get; private set; }

        /// <summary>Journal id of the write-off attempt, or null when no attempt was recorded.</summary>
        public string AttemptId { get; private set; }

        /// <summary>Creates the exception for a failed call from its error record.</summary>
        internal static EsbytException FromRecord(int status, ref NativeError error, string attemptId)
        {
            var esbytStatus = (EsbytStatus)status;
            string message = Utf8.Decode(error.message);
            if (message.Length == 0)
            {
                message = EsbytClient.GetStatusDescription(esbytStatus);
            }
            if (esbytStatus == EsbytStatus.OutcomeUnknown)
            {
                return new EsbytOutcomeUnknownException(
                    message,
                    error.server_code,
                    error.http_status,
                    (EsbytStatus)error.cause,
                    (EsbytDetail)error.detail,
                    attemptId);
            }
            return new EsbytException(
                esbytStatus,
                message,
                error.server_code,
                error.http_status,
                (EsbytStatus)error.cause,
                (EsbytDetail)error.detail,
                attemptId);
        }
    }

    /// <summary>
    /// A write-off whose outcome is unknown: the request may have reached the server,
    /// but no valid response came back, so the bonuses may have been written off.
    /// Never resend it blindly. Reconcile it first, for example by checking the balance
    /// or asking the programme's support, then mark <see cref="EsbytException.AttemptId"/>
    /// resolved with <see cref="EsbytClient.ResolveSpend"/>.
    /// </summary>
    public class EsbytOutcomeUnknownException : EsbytException
    {
        /// <summary>Creates the exception with the underlying cause and the journal attempt id.</summary>
        public EsbytOutcomeUnknownException(
            string message,
            long serverCode,
            int httpStatus,
            EsbytStatus cause,
            EsbytDetail detail,
            string attemptId)
            : base(EsbytStatus.OutcomeUnknown, message, serverCode, httpStatus, cause, detail, attemptId)
        {
        }
    }

    /// <summary>
    /// A client of the bonus server. Create one per server and share it, because every
    /// method may be called from any number of threads at once, as the C library allows.
    /// Each call blocks for at most the configured timeout, so call it off the UI thread.
    /// </summary>
    /// <remarks>
    /// Dispose frees the native client. Calls that are running on other threads at that
    /// moment finish normally and the client is freed after the last of them returns.
    /// Calls made after Dispose throw <see cref="ObjectDisposedException"/>.
    /// </remarks>
    public sealed class EsbytClient : IDisposable
    {
        /// <summary>Number of journal records requested by the first esbyt_journal_pending call.</summary>
        private const int InitialPendingCapacity = 16;

        private readonly ClientHandle handle;

        // Set by Dispose. The handle alone cannot tell, because a SafeHandle stays open
        // until the last call that uses it returns.
        private volatile bool disposed;

        /// <summary>
        /// Creates a client. The URL, the certificate files and the proxy are checked now,
        /// and nothing is sent. Throws <see cref="EsbytException"/> with
        /// <see cref="EsbytStatus.InvalidArgument"/> for a value out of range or an unknown
        /// setting, and <see cref="EsbytStatus.Config"/> for an unusable configuration or a
        /// library of another ABI version.
        /// </summary>
        public EsbytClient(EsbytOptions options)
        {
            if (options == null)
            {
                throw new ArgumentNullException("options");
            }
            EsbytNative.EnsureCompatible();

            using (ConfigHandle config = EsbytNative.esbyt_config_new())
            {
                if (config.IsInvalid)
                {
                    throw new EsbytException(EsbytStatus.Internal, "esbyt_config_new returned NULL, a failure inside libesbyt");
                }
                if (options.ConfigFile != null)
                {
                    LoadConfigFile(config, options.ConfigFile);
                }
                foreach (KeyValuePair<string, string> setting in options.ToSettings())
                {
                    SetSetting(config, setting.Key, setting.Value);
                }

                ClientHandle client;
                NativeError error;
                int status = EsbytNative.esbyt_client_new(config, out client, out error);
                if (status != (int)EsbytStatus.Ok)
                {
                    client.Dispose();
                    throw EsbytException.FromRecord(status, ref error, null);
                }
                handle = client;
            }
        }

        /// <summary>Version of the loaded library, such as "0.1.0".</summary>
        public static string Version
        {
            get { return Utf8.DecodeStatic(EsbytNative.esbyt_version()); }
        }

        /// <summary>ABI version of the loaded library. This binding needs <see cref="EsbytNative.BindingAbiVersion"/>.</summary>
        public static int AbiVersion
        {
            get { return EsbytNative.esbyt_abi_version(); }
        }

        /// <summary>Returns the C name of a status, such as "ESBYT_OUTCOME_UNKNOWN".</summary>
        public static string GetStatusName(EsbytStatus status)
        {
            return Utf8.DecodeStatic(EsbytNative.esbyt_status_name((int)status));
        }

        /// <summary>Returns the library's English one-sentence description of a status.</summary>
        public static string GetStatusDescription(EsbytStatus status)
        {
            return Utf8.DecodeStatic(EsbytNative.esbyt_status_description((int)status));
        }

        /// <summary>
        /// Returns the balance of a card. Whitespace around the number, such as the CR/LF of
        /// a barcode scanner, is trimmed, and the rest must be 1 to 13 digits.
        /// </summary>
        /// <exception cref="EsbytException">The check failed. <see cref="EsbytException.Status"/> names the cause.</exception>
        public Balance CheckBonus(string bonusId)
        {
            ClientHandle client = OpenHandle();
            byte[] bonusIdText = Utf8.Encode(bonusId, "bonus_id");

            NativeBalance balance;
            NativeError error;
            int status = EsbytNative.esbyt_check_bonus(client, bonusIdText, out balance, out error);
            if (status != (int)EsbytStatus.Ok)
            {
                throw EsbytException.FromRecord(status, ref error, null);
            }
            return new Balance(Utf8.Decode(balance.account), Utf8.Decode(balance.bonus_id), balance.amount);
        }

        /// <summary>
        /// Writes <paramref name="amount"/> bonuses (1 to 2147483647) off a card with the
        /// configured supplier code. The request is sent at most once and never retried.
        /// </summary>
        /// <exception cref="EsbytOutcomeUnknownException">
        /// The write-off may have been executed. Reconcile it before trying again.
        /// </exception>
        /// <exception cref="EsbytException">Nothing was written off. <see cref="EsbytException.Status"/> names the cause.</exception>
        public WriteOff SpendBonus(string bonusId, long amount)
        {
            ClientHandle client = OpenHandle();
            byte[] bonusIdText = Utf8.Encode(bonusId, "bonus_id");

            NativeWriteOff writeOff;
            NativeError error;
            int status = EsbytNative.esbyt_spend_bonus(client, bonusIdText, amount, out writeOff, out error);
            string attemptId = NullIfEmpty(Utf8.Decode(writeOff.attempt_id));
            if (status != (int)EsbytStatus.Ok)
            {
                throw EsbytException.FromRecord(status, ref error, attemptId);
            }
            return new WriteOff(Utf8.Decode(writeOff.spend_id), attemptId);
        }

        /// <summary>
        /// Returns the journal's write-off attempts that must be reconciled, oldest first:
        /// those without an outcome and those that ended in outcome unknown, unless resolved.
        /// Throws <see cref="EsbytException"/> with <see cref="EsbytStatus.Config"/> when no
        /// journal file is set or it cannot be read.
        /// </summary>
        public IList<PendingSpend> PendingSpends()
        {
            ClientHandle client = OpenHandle();
            int recordSize = Marshal.SizeOf(typeof(NativePendingSpend));
            int capacity = InitialPendingCapacity;

            // Another thread or process can add attempts between two calls, so the
            // array grows until the count fits in it.
            while (true)
            {
                IntPtr records = Marshal.AllocHGlobal(checked(recordSize * capacity));
                try
                {
                    int count;
                    NativeError error;
                    int status = EsbytNative.esbyt_journal_pending(client, records, capacity, out count, out error);
                    if (status != (int)EsbytStatus.Ok)
                    {
                        throw EsbytException.FromRecord(status, ref error, null);
                    }
                    if (count <= capacity)
                    {
                        return ReadPendingSpends(records, count, recordSize);
                    }
                    capacity = count;
                }
                finally
                {
                    Marshal.FreeHGlobal(records);
                }
            }
        }

        /// <summary>
        /// Marks a journal attempt resolved after the host reconciled it, so
        /// <see cref="PendingSpends"/> no longer lists it. <paramref name="note"/> (may be
        /// null) is stored with it, for example "balance checked: written off".
        /// Resolving an attempt twice succeeds.
        /// </summary>
        public void ResolveSpend(string attemptId, string note)
        {
            ClientHandle client = OpenHandle();
            byte[] attemptIdText = Utf8.Encode(attemptId, "attempt_id");
            byte[] noteText = Utf8.Encode(note, "note");

            NativeError error;
            int status = EsbytNative.esbyt_journal_resolve(client, attemptIdText, noteText, out error);
            if (status != (int)EsbytStatus.Ok)
            {
                throw EsbytException.FromRecord(status, ref error, null);
            }
        }

        /// <summary>Frees the native client after the calls running on other threads return. Safe to call twice.</summary>
        public void Dispose()
        {
            disposed = true;
            handle.Dispose();
        }

        /// <summary>The native handle, for tests of the binding.</summary>
        internal ClientHandle Handle
        {
            get { return handle; }
        }

        private static void SetSetting(ConfigHandle config, string name, string value)
        {
            NativeError error;
            int status = EsbytNative.esbyt_config_set(
                config,
                Utf8.Encode(name, "setting name"),
                Utf8.Encode(value, name),
                out error);
            if (status != (int)EsbytStatus.Ok)
            {
                throw EsbytException.FromRecord(status, ref error, null);
            }
        }

        private static void LoadConfigFile(ConfigHandle config, string path)
        {
            NativeError error;
            int status = EsbytNative.esbyt_config_load_file(config, Utf8.Encode(path, "path"), out error);
            if (status != (int)EsbytStatus.Ok)
            {
                throw EsbytException.FromRecord(status, ref error, null);
            }
        }

        /// <summary>
        /// Returns the handle, or throws ObjectDisposedException after Dispose. A call that
        /// passed this check before Dispose holds a reference to the handle while it runs,
        /// so the library frees the client only after that call returns.
        /// </summary>
        private ClientHandle OpenHandle()
        {
            if (disposed)
            {
                throw new ObjectDisposedException(typeof(EsbytClient).Name, "the EsbytClient was disposed; create a new one");
            }
            return handle;
        }

        private static List<PendingSpend> ReadPendingSpends(IntPtr records, int count, int recordSize)
        {
            var spends = new List<PendingSpend>(count);
            for (int index = 0; index < count; index++)
            {
                var address = new IntPtr(records.ToInt64() + (long)index * recordSize);
                var record = (NativePendingSpend)Marshal.PtrToStructure(address, typeof(NativePendingSpend));
                spends.Add(new PendingSpend(
                    Utf8.Decode(record.attempt_id),
                    Utf8.Decode(record.bonus_id),
                    record.time_ms,
                    record.supplier,
                    record.amount,
                    (EsbytPendingState)record.state,
                    (EsbytStatus)record.cause));
            }
            return spends;
        }

        private static string NullIfEmpty(string text)
        {
            return text.Length == 0 ? null : text;
        }
    }

    /// <summary>Loading of the native library and the binding's ABI check.</summary>
    public static class EsbytNative
    {
        /// <summary>
        /// Name in every DllImport of the library. Windows loads esbyt.dll, Linux
        /// libesbyt.so, and macOS libesbyt.dylib.
        /// </summary>
        public const string LibraryName = "esbyt";

        /// <summary>The ESBYT_ABI_VERSION of the header that this binding mirrors.</summary>
        public const int BindingAbiVersion = 1;

        /// <summary>Size in bytes of esbyt_error.message (ESBYT_MESSAGE_SIZE).</summary>
        internal const int MessageSize = 1024;

        /// <summary>Size in bytes of the text fields of the result records (ESBYT_TEXT_SIZE).</summary>
        internal const int TextSize = 64;

        /// <summary>Windows' error code for a DLL of another architecture (ERROR_BAD_EXE_FORMAT).</summary>
        private const int BadExeFormat = 193;

        /// <summary>Windows' error code for a DLL whose own dependencies are missing (ERROR_MOD_NOT_FOUND).</summary>
        private const int ModuleNotFound = 126;

        private static volatile bool compatibilityChecked;

        /// <summary>
        /// Loads esbyt.dll for this process's architecture from
        /// <c>baseDirectory\x86\esbyt.dll</c> or <c>baseDirectory\x64\esbyt.dll</c>, and returns
        /// the path loaded. Call it on Windows before the first call into the library:
        /// the DllImports then bind to the module already loaded. Does nothing and
        /// returns null on other operating systems.
        /// </summary>
        /// <exception cref="FileNotFoundException">The DLL for this architecture is missing.</exception>
        /// <exception cref="Win32Exception">Windows could not load the DLL.</exception>
        public static string Preload(string baseDirectory)
        {
            if (baseDirectory == null)
            {
                throw new ArgumentNullException("baseDirectory");
            }
            if (Environment.OSVersion.Platform != PlatformID.Win32NT)
            {
                return null;
            }

            // NOTE: IntPtr.Size is 8 in an ARM64 process too, which would load the x64
            // DLL and fail with ERROR_BAD_EXE_FORMAT. ARM64 Windows is not handled.
            string architecture = IntPtr.Size == 8 ? "x64" : "x86";
            string path = Path.Combine(Path.Combine(baseDirectory, architecture), "esbyt.dll");
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(
                    "esbyt.dll for this " + (IntPtr.Size * 8) + "-bit process is missing; copy the " + architecture + " build of the library there",
                    path);
            }
            if (LoadLibraryW(path) == IntPtr.Zero)
            {
                int code = Marshal.GetLastWin32Error();
                string hint = string.Empty;
                if (code == BadExeFormat)
                {
                    hint = "; the DLL was built for another architecture than this " + (IntPtr.Size * 8) + "-bit process";
                }
                else if (code == ModuleNotFound)
                {
                    hint = "; a DLL that esbyt.dll needs is missing, such as the Visual C++ runtime vcruntime140.dll";
                }
                throw new Win32Exception(
                    code,
                    "LoadLibrary failed for " + path + ": " + new Win32Exception(code).Message + hint);
            }
            return path;
        }

        /// <summary>
        /// Throws <see cref="EsbytException"/> with <see cref="EsbytStatus.Config"/> unless
        /// the loaded library has the ABI version this binding mirrors. The constructor of
        /// <see cref="EsbytClient"/> calls it, so a host needs it only to check at start-up.
        /// </summary>
        /// <exception cref="DllNotFoundException">The library was not found.</exception>
        public static void EnsureCompatible()
        {
            if (compatibilityChecked)
            {
                return;
            }
            int loaded = esbyt_abi_version();
            if (loaded != BindingAbiVersion)
            {
                throw new EsbytException(
                    EsbytStatus.Config,
                    "the loaded esbyt library has ABI version " + loaded + ", but this C# binding needs "
                    + BindingAbiVersion + "; ship the library and the binding from the same release");
            }
            compatibilityChecked = true;
        }

        // The exports of include/esbyt.h. Pointers to const char are byte arrays of
        // NUL-terminated UTF-8, and NULL is a null array. Strings that the library
        // returns are static, so they are read from an IntPtr and never freed.

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_client_new")]
        internal static extern int esbyt_client_new(ConfigHandle config, out ClientHandle client, out NativeError error);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_client_free")]
        internal static extern int esbyt_client_free(IntPtr client);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_check_bonus")]
        internal static extern int esbyt_check_bonus(ClientHandle client, byte[] bonusId, out NativeBalance balance, out NativeError error);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_spend_bonus")]
        internal static extern int esbyt_spend_bonus(ClientHandle client, byte[] bonusId, long amount, out NativeWriteOff writeOff, out NativeError error);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_journal_pending")]
        internal static extern int esbyt_journal_pending(ClientHandle client, IntPtr pending, int capacity, out int count, out NativeError error);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_journal_resolve")]
        internal static extern int esbyt_journal_resolve(ClientHandle client, byte[] attemptId, byte[] note, out NativeError error);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_config_new")]
        internal static extern ConfigHandle esbyt_config_new();

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_config_set")]
        internal static extern int esbyt_config_set(ConfigHandle config, byte[] name, byte[] value, out NativeError error);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_config_free")]
        internal static extern int esbyt_config_free(IntPtr config);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_config_load_file")]
        internal static extern int esbyt_config_load_file(ConfigHandle config, byte[] path, out NativeError error);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_set_log_callback")]
        internal static extern int esbyt_set_log_callback(NativeLogCallback callback, IntPtr userData, int maxLevel, out NativeError error);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_status_name")]
        internal static extern IntPtr esbyt_status_name(int status);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_status_description")]
        internal static extern IntPtr esbyt_status_description(int status);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_abi_version")]
        internal static extern int esbyt_abi_version();

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, EntryPoint = "esbyt_version")]
        internal static extern IntPtr esbyt_version();

        // A Windows API, so it uses the platform's stdcall convention, not cdecl. Preload
        // calls it only on Windows, and P/Invoke resolves kernel32 at the first call.
        [DllImport("kernel32", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "LoadLibraryW")]
        private static extern IntPtr LoadLibraryW(string path);
    }

    /// <summary>
    /// Receiver of the library's log records. The library's logging is process-wide, so
    /// this class is static.
    /// </summary>
    public static class EsbytLog
    {
        // The one function pointer ever given to the library. It lives as long as the
        // process, because the library may still be running a call to a callback after
        // esbyt_set_log_callback has replaced it. Changing the handler swaps the field.
        private static readonly NativeLogCallback Trampoline = Dispatch;

        private static readonly object RegistrationLock = new object();

        private static volatile Action<EsbytLogLevel, string> handler;

        /// <summary>
        /// Sends the library's log records up to <paramref name="maxLevel"/> to
        /// <paramref name="logHandler"/>, or stops sending them when it is null or the
        /// level is Off. The handler runs on the library's threads, often several at
        /// once, so it must be thread-safe. Card numbers in the messages are masked.
        /// An exception that the handler throws is dropped, because it cannot cross
        /// into the native library.
        /// </summary>
        public static void SetHandler(Action<EsbytLogLevel, string> logHandler, EsbytLogLevel maxLevel)
        {
            NativeError error;
            int status;
            // The lock keeps the handler and the registered level of one call together.
            lock (RegistrationLock)
            {
                handler = logHandler;
                status = logHandler == null || maxLevel == EsbytLogLevel.Off
                    ? EsbytNative.esbyt_set_log_callback(null, IntPtr.Zero, 0, out error)
                    : EsbytNative.esbyt_set_log_callback(Trampoline, IntPtr.Zero, (int)maxLevel, out error);
            }
            if (status != (int)EsbytStatus.Ok)
            {
                throw EsbytException.FromRecord(status, ref error, null);
            }
        }

        private static void Dispatch(IntPtr userData, int level, IntPtr message)
        {
            Action<EsbytLogLevel, string> current = handler;
            if (current == null)
            {
                return;
            }
            try
            {
                current((EsbytLogLevel)level, Utf8.DecodeStatic(message));
            }
            catch (Exception)
            {
                // Dropped: an exception must not unwind into the library's frames.
            }
        }
    }

    /// <summary>esbyt_log_callback: user data, level and a NUL-terminated UTF-8 message valid during the call.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void NativeLogCallback(IntPtr userData, int level, IntPtr message);

    /// <summary>An esbyt_client handle, freed exactly once with esbyt_client_free.</summary>
    internal sealed class ClientHandle : SafeHandle
    {
        // The marshaller creates instances through this constructor.
        public ClientHandle()
            : base(IntPtr.Zero, true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        protected override bool ReleaseHandle()
        {
            return EsbytNative.esbyt_client_free(handle) == (int)EsbytStatus.Ok;
        }
    }

    /// <summary>An esbyt_config handle, freed exactly once with esbyt_config_free.</summary>
    internal sealed class ConfigHandle : SafeHandle
    {
        // The marshaller creates instances through this constructor.
        public ConfigHandle()
            : base(IntPtr.Zero, true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        protected override bool ReleaseHandle()
        {
            return EsbytNative.esbyt_config_free(handle) == (int)EsbytStatus.Ok;
        }
    }

    // The records of esbyt.h, field for field and with the C names. Each record puts its
    // 8-byte fields first and has a size divisible by 8, so x86 and x64 lay it out alike.

    /// <summary>esbyt_error, 1056 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeError
    {
        public long server_code;
        public int status;
        public int http_status;
        public int cause;
        public int detail;
        public int message_length;
        public int reserved;

        [MarshalAs(UnmanagedType.ByValArray, SizeConst = EsbytNative.MessageSize)]
        public byte[] message;
    }

    /// <summary>esbyt_balance, 136 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeBalance
    {
        public long amount;

        [MarshalAs(UnmanagedType.ByValArray, SizeConst = EsbytNative.TextSize)]
        public byte[] account;

        [MarshalAs(UnmanagedType.ByValArray, SizeConst = EsbytNative.TextSize)]
        public byte[] bonus_id;
    }

    /// <summary>esbyt_write_off, 128 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeWriteOff
    {
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = EsbytNative.TextSize)]
        public byte[] spend_id;

        [MarshalAs(UnmanagedType.ByValArray, SizeConst = EsbytNative.TextSize)]
        public byte[] attempt_id;
    }

    /// <summary>esbyt_pending_spend, 160 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativePendingSpend
    {
        public long time_ms;
        public long supplier;
        public long amount;
        public int state;
        public int cause;

        [MarshalAs(UnmanagedType.ByValArray, SizeConst = EsbytNative.TextSize)]
        public byte[] attempt_id;

        [MarshalAs(UnmanagedType.ByValArray, SizeConst = EsbytNative.TextSize)]
        public byte[] bonus_id;
    }

    /// <summary>Conversion between .NET strings and the library's NUL-terminated UTF-8.</summary>
    internal static class Utf8
    {
        // Throws on a lone surrogate instead of sending U+FFFD in its place, because a
        // silently changed password or card number is worse than an error.
        private static readonly Encoding StrictEncoding = new UTF8Encoding(false, true);

        /// <summary>
        /// Encodes text as NUL-terminated UTF-8, or returns null for null. Throws
        /// EsbytException with InvalidArgument, naming <paramref name="name"/>, for text
        /// that contains a NUL character or a lone surrogate.
        /// </summary>
        internal static byte[] Encode(string text, string name)
        {
            if (text == null)
            {
                return null;
            }
            int nulIndex = text.IndexOf('\0');
            if (nulIndex >= 0)
            {
                throw new EsbytException(
                    EsbytStatus.InvalidArgument,
                    name + " contains a NUL character at index " + nulIndex + ", which would cut the text short; remove it");
            }
            try
            {
                int length = StrictEncoding.GetByteCount(text);
                var bytes = new byte[length + 1];
                StrictEncoding.GetBytes(text, 0, text.Length, bytes, 0);
                return bytes;
            }
            catch (EncoderFallbackException exception)
            {
                throw new EsbytException(
                    EsbytStatus.InvalidArgument,
                    name + " is not valid UTF-16 text: " + exception.Message);
            }
        }

        /// <summary>Decodes a NUL-terminated UTF-8 field of a record. An unset field gives an empty string.</summary>
        internal static string Decode(byte[] field)
        {
            if (field == null)
            {
                return string.Empty;
            }
            int length = Array.IndexOf(field, (byte)0);
            if (length < 0)
            {
                length = field.Length;
            }
            return Encoding.UTF8.GetString(field, 0, length);
        }

        /// <summary>Decodes a NUL-terminated UTF-8 string that the library returned or passed to a callback.</summary>
        internal static string DecodeStatic(IntPtr text)
        {
            if (text == IntPtr.Zero)
            {
                return string.Empty;
            }
            int length = 0;
            while (Marshal.ReadByte(text, length) != 0)
            {
                length++;
            }
            var bytes = new byte[length];
            Marshal.Copy(text, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }
    }
}
