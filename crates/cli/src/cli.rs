//! Command-line definitions (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use urbis_accounts::Role;
use urbis_client::BlockId;
use urbis_core::Hash;
use urbis_rewards::Category;

pub const DEFAULT_NODE: &str = "http://127.0.0.1:8545";

/// Urbis: keys, transactions, queries and proofs for the Urbis city chain.
#[derive(Debug, Parser)]
#[command(name = "urbis", version, about, propagate_version = true)]
pub struct Cli {
    /// Node HTTP API base URL.
    #[arg(long, global = true, env = "URBIS_NODE", default_value = DEFAULT_NODE)]
    pub node: String,

    /// Keystore file [default: $XDG_DATA_HOME/urbis/keystore.json or
    /// ~/.local/share/urbis/keystore.json].
    #[arg(long, global = true, env = "URBIS_KEYSTORE")]
    pub keystore: Option<PathBuf>,

    /// File whose first line is the passphrase of the keystore (or of a validator key);
    /// otherwise $URBIS_PASSPHRASE, otherwise it is asked on the terminal.
    #[arg(long, global = true, env = "URBIS_PASSPHRASE_FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a single-validator development chain until Ctrl-C.
    Dev(DevArgs),
    /// Manage local signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Sign and submit transactions, or look one up.
    #[command(subcommand)]
    Tx(TxCmd),
    /// Read chain state, optionally with a proof.
    #[command(subcommand)]
    Query(QueryCmd),
    /// Show a block (default: the latest).
    Block {
        /// `latest`, a height, or a block hash.
        #[arg(default_value = "latest")]
        id: BlockId,
    },
    /// Show the node's status.
    Status,
    /// Search the event index.
    #[command(subcommand)]
    Events(EventsCmd),
    /// Modules of the chain: calls (with `--schema`, their JSON Schema), queries, events.
    Modules {
        /// Only this module.
        name: Option<String>,
        /// Print the call JSON Schema(s) only.
        #[arg(long)]
        schema: bool,
    },
    /// Verify a proof bundle against a trusted genesis file.
    Verify(VerifyArgs),
    /// Create a validator key and node config, or with --full a full node's config
    /// (consortium set-up).
    Init(InitArgs),
    /// Assemble a genesis file from validators' public parts.
    Genesis(GenesisArgs),
    /// Run a validator from its config until Ctrl-C.
    Node(NodeArgs),
    /// Create (and by default run) a local multi-validator network on loopback.
    Testnet(TestnetArgs),
    /// Elections on chain: create, key ceremony, credentials, open, cast, spoil, close,
    /// decrypt, status, export and verify the record; or simulate one off chain.
    #[command(subcommand)]
    Election(crate::election::ElectionCmd),
    /// The public ledger: departments, decisions, budgets, spending, tenders.
    #[command(subcommand)]
    Gov(crate::gov::GovCmd),
    /// Administrative processes as data: define, list, start, act, show.
    #[command(subcommand)]
    Workflow(crate::workflow::WorkflowCmd),
    /// Energy: meters, feeders, readings, the peer-to-peer market, clearing, settlement.
    #[command(subcommand)]
    Energy(crate::energy::EnergyCmd),
    /// Mobility: vehicles and telemetry anchors, position proofs, ride-sharing, public
    /// transport (cards, taps, fares, clearing, statistics).
    #[command(subcommand)]
    Mobility(crate::mobility::MobilityCmd),
    /// Waste: licensed actors, certified scales, deposits and rewards, collection, handovers,
    /// splits, merges, fates, mass-balance flags, recycling rates, custody traces with proofs.
    #[command(subcommand)]
    Waste(crate::waste::WasteCmd),
    /// Decentralised identifiers (did:urbis): create, resolve, rotate, deactivate; issuer
    /// accreditation and status lists.
    #[command(subcommand)]
    Did(crate::identity::DidCmd),
    /// SD-JWT verifiable credentials: issue, present, verify against the chain, revoke.
    #[command(subcommand)]
    Credential(crate::identity::CredentialCmd),
    /// Consent grants: request, grant, use (each leaves an access receipt), revoke, log.
    #[command(subcommand)]
    Consent(crate::consent::ConsentCmd),
    /// The node's blob store: upload (signed) and download encrypted payloads.
    #[command(subcommand)]
    Blob(crate::blob::BlobCmd),
    /// Selective sharing of encrypted files: put, get, add-recipient, revoke, log.
    #[command(subcommand)]
    Share(crate::share::ShareCmd),
    /// The land register: parcels, liens, transfers through their workflow.
    #[command(subcommand)]
    Land(crate::land::LandCmd),
    /// Encrypted records (health, identity documents, deeds): put, get under a grant or in an
    /// emergency, log, erase.
    #[command(subcommand)]
    Record(crate::record::RecordCmd),
    /// Petitions: open, sign, withdraw, answer, show.
    #[command(subcommand)]
    Petition(crate::petition::PetitionCmd),
    /// Consultations and polls: create, respond, show.
    #[command(subcommand)]
    Poll(crate::poll::PollCmd),
    /// The notice board: publish, acknowledge, show.
    #[command(subcommand)]
    Notice(crate::notice::NoticeCmd),
    /// End-to-end load benchmark against a dev chain, a local testnet or a running network.
    Bench(Box<BenchArgs>),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Under a minute end to end: 100,000 transactions (unless --txs), 0.5 s verify ceiling.
    #[arg(long)]
    pub quick: bool,
    /// Measured transactions [default: 300000, or 100000 with --quick].
    #[arg(long)]
    pub txs: Option<usize>,
    /// Offered load in tx/s (global); default: as fast as the node accepts.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Concurrent submitter tasks.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub concurrency: u64,
    /// Transactions per request: 1 posts each to /v1/txs, more use /v1/txs/batch.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,
    /// Start a local testnet of this many validators instead of `urbis dev`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=16), conflicts_with = "target")]
    pub validators: Option<u64>,
    /// Benchmark a running network at this API URL instead of starting nodes.
    #[arg(long)]
    pub target: Option<String>,
    /// With --target: the city admin's 32-byte seed in hex.
    #[arg(long, requires = "target", conflicts_with = "admin_key")]
    pub admin_seed: Option<String>,
    /// With --target: the keystore name of a city admin key.
    #[arg(long, requires = "target")]
    pub admin_key: Option<String>,
    /// Block time of the nodes the bench starts, in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub block_time_ms: u64,
    /// Departments (senders of awards).
    #[arg(long, default_value_t = 32)]
    pub departments: usize,
    /// Citizens (senders of transfers and redemptions).
    #[arg(long, default_value_t = 1000)]
    pub citizens: usize,
    #[arg(long, default_value_t = 4)]
    pub merchants: usize,
    /// Seed of the workload mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The transaction mix: `city` (rewards, asset transfers and escrow holds) or `rewards`
    /// (awards, transfers and redemptions only, as in benchmarks before the module platform).
    #[arg(long, default_value = "city", value_parser = ["city", "rewards"])]
    pub mix: String,
    /// Print one JSON object instead of the table (same as --output json).
    #[arg(long)]
    pub json: bool,
    /// `load`: throughput and latency. `api-storm`: the block rate under transaction load
    /// (default 5000 tx/s) with and without a storm of proof queries, block fetches and silent
    /// event subscribers, as a ratio.
    #[arg(long, value_enum, default_value_t = ScenarioArg::Load)]
    pub scenario: ScenarioArg,
    /// api-storm: clients looping proof queries.
    #[arg(long, default_value_t = 128)]
    pub storm_provers: usize,
    /// api-storm: clients looping block fetches.
    #[arg(long, default_value_t = 16)]
    pub storm_fetchers: usize,
    /// api-storm: event-stream subscribers that never read.
    #[arg(long, default_value_t = 3000)]
    pub storm_subscribers: usize,
    /// did-resolve: DIDs created before measuring.
    #[arg(long, default_value_t = 1000)]
    pub dids: usize,
    /// did-resolve: concurrent HTTP clients; portal: page readers.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// soak: seconds of the capacity probe before the soak [default: 20, 5 with --quick].
    #[arg(long)]
    pub probe_seconds: Option<u64>,
    /// did-resolve: seconds of measurement [default: 5, 2 with --quick].
    #[arg(long)]
    pub seconds: Option<u64>,
    /// land-transfers: sales through the workflow [default: 10000, 1000 with --quick].
    #[arg(long)]
    pub transfers: Option<usize>,
    /// blob-replication: MiB uploaded, in 4 MiB blobs [default: 256, 64 with --quick].
    #[arg(long)]
    pub blob_mib: Option<usize>,
    /// election: yes/no ballots cast [default: 100000, 10000 with --quick].
    #[arg(long)]
    pub ballots: Option<usize>,
    /// permits: building-permit applications [default: 10000, 1000 with --quick].
    #[arg(long)]
    pub permits: Option<usize>,
    /// energy-day: meters [default: 10000, 1000 with --quick].
    #[arg(long)]
    pub meters: Option<usize>,
    /// energy-day: intervals simulated [default: 96 (a day), 12 with --quick].
    #[arg(long)]
    pub intervals: Option<u64>,
    /// energy-day: the chain's interval length in ms (set at genesis) [default: 6000, 2000 with
    /// --quick].
    #[arg(long)]
    pub interval_ms: Option<u64>,
    /// transit: cards [default: 20000, 2000 with --quick].
    #[arg(long)]
    pub cards: Option<usize>,
    /// telemetry: vehicles [default: 10000, 1000 with --quick].
    #[arg(long)]
    pub vehicles: Option<usize>,
    /// telemetry: anchoring periods [default: 5, 3 with --quick].
    #[arg(long)]
    pub periods: Option<usize>,
    /// telemetry: the period in ms [default: 60000 (a minute), 5000 with --quick].
    #[arg(long)]
    pub period_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScenarioArg {
    Load,
    ApiStorm,
    /// DID resolutions per second over HTTP (`--dids`, `--clients`, `--seconds`).
    DidResolve,
    /// Parcel sales end to end through the land workflow on a dev node (`--transfers`).
    LandTransfers,
    /// Blob upload to one of 4 validators and replication to the 3 others (`--blob-mib`).
    BlobReplication,
    /// An election end to end on a dev node, each stage timed (`--ballots`).
    Election,
    /// Building permits through the shipped workflow on a dev node (`--permits`).
    Permits,
    /// A day of the energy market on a dev node: orders and readings of every meter, clearing
    /// at each gate, settlement (`--meters`, `--intervals`, `--interval-ms`).
    EnergyDay,
    /// Transit taps on a dev node at an offered rate (`--cards`, `--rate` [default 2500],
    /// `--seconds` [default 30, 10 with --quick]).
    Transit,
    /// Vehicle telemetry anchored every period and a position proof verified (`--vehicles`,
    /// `--periods`, `--period-ms`).
    Telemetry,
    /// Citizens' deposits at smart bins at an offered rate (`--citizens`, `--rate` [default
    /// 1000], `--seconds` [default 30, 10 with --quick]), then a 10-hop batch traced.
    Waste,
    /// The portal's pages read by `--clients` readers while the city mix is
    /// offered at `--rate` [default 500] for `--seconds` [default 30, 10 with --quick]: each
    /// page's p50, p95 and max.
    Portal,
    /// A dev node under steady load: a probe measures what it commits offered as fast as it
    /// takes (`--probe-seconds`, default 20), then half of that (or `--rate`) is offered for
    /// `--seconds` [default 600, 30 with --quick], signed as it goes; the node's RSS slope,
    /// committed rate and latency.
    Soak,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory for node.toml, validator.key and validator.json.
    #[arg(long)]
    pub dir: PathBuf,
    /// Validator name [default: the directory's name].
    #[arg(long)]
    pub name: Option<String>,
    /// HTTP API listen address.
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub api: SocketAddr,
    /// p2p listen address (other validators dial it).
    #[arg(long, default_value = "127.0.0.1:9545")]
    pub p2p: SocketAddr,
    /// Genesis file the node will read (relative to --dir).
    #[arg(long, default_value = "genesis.json")]
    pub genesis: PathBuf,
    /// Write validator.key in the clear instead of sealing it with a passphrase (throwaway
    /// keys only).
    #[arg(long, conflicts_with = "full")]
    pub insecure_plaintext_key: bool,
    /// A full node instead of a validator: it follows the chain through the APIs given with
    /// --follow, verifies every certificate against the genesis validator set, executes and
    /// serves the API, proofs and the portal, and never votes (no key is made).
    #[arg(long, requires = "follow")]
    pub full: bool,
    /// Base URL of a node API a full node follows (a validator or another full node);
    /// repeatable: the next is asked when one fails.
    #[arg(long, requires = "full", value_name = "URL")]
    pub follow: Vec<String>,
    /// With --full: on its first start, take the state at a recent certified height from the
    /// nodes followed instead of replaying the chain from genesis.
    #[arg(long, requires = "full")]
    pub state_sync: bool,
}

#[derive(Debug, Args)]
pub struct GenesisArgs {
    #[arg(long)]
    pub chain_id: String,
    /// A validator.json file, or a directory holding one; repeat for each validator.
    #[arg(long, required = true)]
    pub validator: Vec<PathBuf>,
    /// Address given the city_admin role; repeatable.
    #[arg(long)]
    pub admin: Vec<urbis_core::Address>,
    /// Blocks per epoch: lets the council change the validator set (a change applies two epochs
    /// after the one it is decided in). Without it the genesis validators sign forever.
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    pub epoch_length: Option<u64>,
    #[arg(long, default_value = "genesis.json")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Path of node.toml.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub validators: u16,
    /// Directory for the configs (DIR/node0/node.toml …).
    #[arg(long)]
    pub dir: PathBuf,
    /// Only write the configs; start each node with `urbis node --config DIR/nodeI/node.toml`.
    #[arg(long)]
    pub init_only: bool,
    #[arg(long, default_value = "urbis-testnet")]
    pub chain_id: String,
    /// API port of node0 (nodeI uses base+I).
    #[arg(long, default_value_t = 8600)]
    pub base_api: u16,
    /// p2p port of node0 (nodeI uses base+I).
    #[arg(long, default_value_t = 9600)]
    pub base_p2p: u16,
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub block_time_ms: u64,
    /// Blocks per epoch (see `urbis genesis --epoch-length`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    pub epoch_length: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Data directory [default: $XDG_DATA_HOME/urbis/dev or ~/.local/share/urbis/dev].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address the HTTP API listens on.
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub api: SocketAddr,
    /// Target time between blocks, in milliseconds.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub block_time_ms: u64,
    /// Delete the data directory first (a fresh chain).
    #[arg(long)]
    pub reset: bool,
    /// Run the demo city: a chain seeded with departments, 1,000 residents, meters, transit,
    /// bins, parcels, an election and a petition, and a simulator that keeps it busy (its own
    /// data directory, `…/urbis/demo`, unless --data-dir is given). Its keys are public.
    #[arg(long)]
    pub demo: bool,
    /// With --demo: transactions per second the simulator aims at.
    #[arg(long, default_value_t = 20.0, requires = "demo")]
    pub demo_rate: f64,
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Generate a new key, sealed with the keystore's passphrase.
    New { name: String },
    /// List keys (and whether each is encrypted).
    List,
    /// Seal every key with a new passphrase (keys in the clear, like the dev chain's, too).
    ChangePassphrase {
        /// File whose first line is the new passphrase; otherwise $URBIS_NEW_PASSPHRASE,
        /// otherwise it is asked twice on the terminal.
        #[arg(long)]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Show a key's public key and address.
    Show {
        name: String,
        /// Also print the secret seed.
        #[arg(long)]
        reveal_secret: bool,
    },
    /// Import a key from its 32-byte seed (64 hex digits), sealed with the keystore's
    /// passphrase.
    Import {
        name: String,
        #[arg(long)]
        seed: String,
    },
}

/// Options every transaction command takes.
#[derive(Debug, Args)]
pub struct TxOpts {
    /// Keystore name of the signing key.
    #[arg(long)]
    pub from: String,
    /// Submit and print the hash without waiting for execution.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum TxCmd {
    /// Accounts module: roles and labels.
    #[command(subcommand)]
    Accounts(AccountsTx),
    /// Rewards module: programs, awards, transfers, redemptions.
    #[command(subcommand)]
    Rewards(RewardsTx),
    /// Assets module: settlement assets, issuance, transfers.
    #[command(subcommand)]
    Assets(AssetsTx),
    /// Any module's call from its JSON form, encoded and signed here, e.g.
    /// `call assets '{"call":"transfer","symbol":"EURc","to":"urbis1…","amount":250}'`
    /// (`urbis modules` lists the calls and their schemas).
    Call {
        #[command(flatten)]
        tx: TxOpts,
        /// Module name.
        module: String,
        /// The call's JSON form (`-` reads it from standard input).
        json: String,
    },
    /// Show a transaction's status and receipt.
    Status {
        hash: Hash,
        /// Ask for a receipt bundle (verifiable with `urbis verify`).
        #[arg(long)]
        prove: bool,
        /// Write the receipt bundle JSON to FILE.
        #[arg(long, requires = "prove")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountsTx {
    /// Give an account a role.
    GrantRole {
        #[command(flatten)]
        tx: TxOpts,
        /// Address or keystore name.
        #[arg(long)]
        account: String,
        #[arg(long)]
        role: Role,
    },
    /// Take a role away from an account.
    RevokeRole {
        #[command(flatten)]
        tx: TxOpts,
        /// Address or keystore name.
        #[arg(long)]
        account: String,
        #[arg(long)]
        role: Role,
    },
    /// Set the sender's display label (empty clears it).
    SetLabel {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        label: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RewardsTx {
    /// Open a reward program (city admin).
    CreateProgram {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        name: String,
        /// recycling, public_transport, energy_saving or other.
        #[arg(long)]
        category: Category,
        /// Most tokens the program may ever mint.
        #[arg(long)]
        budget: u64,
        /// Most tokens one account may be awarded per period.
        #[arg(long)]
        cap: u64,
        /// Period length in milliseconds of block time.
        #[arg(long)]
        period_ms: u64,
        /// Tokens cannot be transferred between accounts.
        #[arg(long)]
        non_transferable: bool,
    },
    /// Award tokens to a citizen (department).
    Award {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        program: u64,
        /// Address or keystore name.
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: u64,
        #[arg(long)]
        reason: String,
    },
    /// Transfer tokens of a transferable program.
    Transfer {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        program: u64,
        /// Address or keystore name.
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: u64,
    },
    /// Spend tokens at a merchant.
    Redeem {
        #[command(flatten)]
        tx: TxOpts,
        /// Address or keystore name.
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        program: u64,
        #[arg(long)]
        amount: u64,
        #[arg(long)]
        item: String,
    },
    /// Pause or resume awards of a program (city admin).
    SetProgramActive {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        program: u64,
        #[arg(long, action = ArgAction::Set)]
        active: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AssetsTx {
    /// Create an asset; you become its issuer (city admin or department).
    Create {
        #[command(flatten)]
        tx: TxOpts,
        /// 1 to 12 letters and digits, e.g. EURc.
        #[arg(long)]
        symbol: String,
        #[arg(long)]
        name: String,
        /// Decimal places of the minor unit (display only).
        #[arg(long, default_value_t = 2)]
        decimals: u8,
    },
    /// Issue new units (issuer).
    Issue {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        symbol: String,
        /// Address or keystore name.
        #[arg(long)]
        to: String,
        /// Minor units.
        #[arg(long)]
        amount: u64,
    },
    /// Burn units from your own balance (issuer).
    Burn {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        symbol: String,
        #[arg(long)]
        amount: u64,
    },
    /// Transfer units.
    Transfer {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        symbol: String,
        /// Address or keystore name.
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: u64,
    },
}

/// `--prove [--out FILE]`, shared by every query.
#[derive(Debug, Args)]
pub struct ProveOpts {
    /// Ask for a proof bundle (verifiable with `urbis verify`).
    #[arg(long)]
    pub prove: bool,
    /// Write the proof bundle JSON to FILE instead of printing it.
    #[arg(long, requires = "prove")]
    pub out: Option<PathBuf>,
}

/// The options of `urbis query <module> <path…>` (parsed after the module name).
#[derive(Debug, Parser)]
#[command(name = "urbis query <module>", no_binary_name = true)]
pub struct ModuleQuery {
    /// Path segments, e.g. `balance EURc urbis1…`.
    #[arg(required = true, num_args = 1..)]
    pub path: Vec<String>,
    #[command(flatten)]
    pub prove: ProveOpts,
    /// List queries: entries per page (1 to 1000).
    #[arg(long)]
    pub limit: Option<usize>,
    /// List queries: start after this cursor.
    #[arg(long, conflicts_with = "all")]
    pub cursor: Option<String>,
    /// List queries: follow the cursors to the end.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum QueryCmd {
    /// An account's roles and label.
    Account {
        /// Address or keystore name.
        address: String,
        #[command(flatten)]
        prove: ProveOpts,
    },
    /// An account's reward balances.
    Balance {
        /// Address or keystore name.
        address: String,
        #[command(flatten)]
        prove: ProveOpts,
    },
    /// A reward program.
    Program {
        id: u64,
        #[command(flatten)]
        prove: ProveOpts,
    },
    /// Reward token totals.
    Supply {
        #[command(flatten)]
        prove: ProveOpts,
    },
    /// A redemption record.
    Redemption {
        id: u64,
        #[command(flatten)]
        prove: ProveOpts,
    },
    /// A page of any list query, e.g. `list rewards programs`, `list accounts accounts`,
    /// `list system jobs`.
    List {
        module: String,
        #[arg(required = true, num_args = 1..)]
        path: Vec<String>,
        /// Entries per page (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this cursor (the `next_cursor` of the page before).
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Follow the cursors to the end.
        #[arg(long)]
        all: bool,
    },
    /// Any module's query: `urbis query <module> <path…>`, e.g. `assets balance EURc urbis1…`
    /// or, for a list, `assets holds --limit 10` (`urbis modules` lists every query).
    #[command(external_subcommand)]
    Module(Vec<String>),
    /// Any module query, e.g. `raw system nonce urbis1…`.
    Raw {
        module: String,
        #[arg(required = true, num_args = 1..)]
        path: Vec<String>,
        #[command(flatten)]
        prove: ProveOpts,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Events in chain order, filtered; JSON lines.
    Search {
        #[arg(long)]
        module: Option<String>,
        /// Needs --module.
        #[arg(long, requires = "module")]
        kind: Option<String>,
        /// Address or keystore name: events with an attribute equal to it.
        #[arg(long)]
        account: Option<String>,
        /// Events with an attribute equal to this value (an id).
        #[arg(long)]
        object: Option<String>,
        #[arg(long)]
        from_height: Option<u64>,
        #[arg(long)]
        to_height: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Proof bundle JSON (as written by `query … --prove --out`), or a full query answer.
    pub proof: PathBuf,
    /// Trusted genesis file. Without it, the genesis is fetched from --node, which means
    /// trusting that node.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("urbis").chain(args.iter().copied()))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_and_defaults() {
        let cli = parse(&["status"]).expect("parses");
        assert_eq!(cli.output, Output::Table);
        assert!(matches!(cli.command, Command::Status));
        // The default may be overridden by URBIS_NODE in the environment; only check it is set.
        assert!(!cli.node.is_empty());

        let cli = parse(&["--node", "http://h:1", "status", "--output", "json"]).expect("parses");
        assert_eq!(cli.node, "http://h:1");
        assert_eq!(cli.output, Output::Json);

        let cli = parse(&["block"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Block {
                id: BlockId::Latest
            }
        ));
        let cli = parse(&["block", "12"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Block {
                id: BlockId::Height(12)
            }
        ));
        assert!(parse(&["block", "x"]).is_err());
        assert!(parse(&["--output", "yaml", "status"]).is_err());
    }

    #[test]
    fn tx_commands() {
        let cli = parse(&[
            "tx",
            "accounts",
            "grant-role",
            "--from",
            "admin",
            "--account",
            "alice",
            "--role",
            "citizen",
        ])
        .expect("parses");
        match cli.command {
            Command::Tx(TxCmd::Accounts(AccountsTx::GrantRole { tx, account, role })) => {
                assert_eq!(tx.from, "admin");
                assert!(!tx.no_wait);
                assert_eq!(account, "alice");
                assert_eq!(role, Role::Citizen);
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = parse(&[
            "tx",
            "accounts",
            "grant-role",
            "--from",
            "a",
            "--account",
            "b",
            "--role",
            "mayor",
        ])
        .expect_err("bad role");
        assert_eq!(err.kind(), ErrorKind::ValueValidation);

        let cli = parse(&[
            "tx",
            "rewards",
            "create-program",
            "--from",
            "admin",
            "--name",
            "Bottles",
            "--category",
            "recycling",
            "--budget",
            "1000",
            "--cap",
            "10",
            "--period-ms",
            "86400000",
            "--non-transferable",
            "--no-wait",
        ])
        .expect("parses");
        match cli.command {
            Command::Tx(TxCmd::Rewards(RewardsTx::CreateProgram {
                tx,
                category,
                budget,
                cap,
                period_ms,
                non_transferable,
                ..
            })) => {
                assert!(tx.no_wait);
                assert_eq!(category, Category::Recycling);
                assert_eq!((budget, cap, period_ms), (1000, 10, 86_400_000));
                assert!(non_transferable);
            }
            other => panic!("unexpected {other:?}"),
        }

        let cli = parse(&[
            "tx",
            "rewards",
            "set-program-active",
            "--from",
            "admin",
            "--program",
            "1",
            "--active",
            "false",
        ])
        .expect("parses");
        assert!(matches!(
            cli.command,
            Command::Tx(TxCmd::Rewards(RewardsTx::SetProgramActive {
                active: false,
                program: 1,
                ..
            }))
        ));
        assert!(
            parse(&[
                "tx",
                "rewards",
                "set-program-active",
                "--from",
                "a",
                "--program",
                "1"
            ])
            .is_err(),
            "--active is required"
        );
        assert!(
            parse(&[
                "tx",
                "rewards",
                "award",
                "--from",
                "a",
                "--program",
                "1",
                "--to",
                "b",
                "--amount",
                "-5",
                "--reason",
                "r"
            ])
            .is_err(),
            "amounts are unsigned"
        );
        assert!(
            parse(&["tx", "accounts", "set-label", "--label", "x"]).is_err(),
            "--from is required"
        );

        let h = Hash::ZERO.to_hex();
        let cli = parse(&["tx", "status", &h]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Tx(TxCmd::Status { prove: false, .. })
        ));
        assert!(parse(&["tx", "status", "abc"]).is_err());
    }

    #[test]
    fn query_and_verify_commands() {
        let cli =
            parse(&["query", "balance", "alice", "--prove", "--out", "p.json"]).expect("parses");
        match cli.command {
            Command::Query(QueryCmd::Balance { address, prove }) => {
                assert_eq!(address, "alice");
                assert!(prove.prove);
                assert_eq!(prove.out, Some(PathBuf::from("p.json")));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            parse(&["query", "supply", "--out", "p.json"]).is_err(),
            "--out needs --prove"
        );
        let cli = parse(&["query", "raw", "system", "nonce", "urbis1x"]).expect("parses");
        match cli.command {
            Command::Query(QueryCmd::Raw { module, path, .. }) => {
                assert_eq!(module, "system");
                assert_eq!(path, vec!["nonce", "urbis1x"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            parse(&["query", "raw", "system"]).is_err(),
            "a path is required"
        );
        assert!(parse(&["query", "program", "one"]).is_err());

        let cli = parse(&["verify", "p.json", "--genesis", "g.json"]).expect("parses");
        match cli.command {
            Command::Verify(v) => {
                assert_eq!(v.proof, PathBuf::from("p.json"));
                assert_eq!(v.genesis, Some(PathBuf::from("g.json")));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse(&["verify"]).is_err());
    }

    #[test]
    fn keys_and_dev_commands() {
        let cli = parse(&["keys", "show", "alice", "--reveal-secret"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Keys(KeysCmd::Show {
                reveal_secret: true,
                ..
            })
        ));
        assert!(
            parse(&["keys", "import", "a"]).is_err(),
            "--seed is required"
        );

        let cli = parse(&[
            "dev",
            "--api",
            "127.0.0.1:9000",
            "--block-time-ms",
            "200",
            "--reset",
        ])
        .expect("parses");
        match cli.command {
            Command::Dev(d) => {
                assert_eq!(d.api.port(), 9000);
                assert_eq!(d.block_time_ms, 200);
                assert!(d.reset);
                assert!(d.data_dir.is_none());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse(&["dev", "--block-time-ms", "0"]).is_err());
        assert!(parse(&["dev", "--api", "localhost"]).is_err());
    }

    #[test]
    fn usage_errors_exit_with_2() {
        let err = parse(&["frobnicate"]).expect_err("unknown command");
        assert_eq!(err.exit_code(), 2);
        let err = parse(&["tx", "accounts", "grant-role"]).expect_err("missing args");
        assert_eq!(err.exit_code(), 2);
    }
}
