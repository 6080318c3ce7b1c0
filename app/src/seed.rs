//! `app seed --parcels N`: fills a store with realistic demo data: branches
//! in six cities, a price list, customers, and parcels in every status.

use futures::StreamExt;
use paqueteria_core::domain::{Grams, Money, ParcelEvent, ParcelStatus, Phone, Role, Service};
use paqueteria_core::store::{
    Actor, Engine, Handover, NewBranch, NewCustomer, NewParcel, NewTariff, Store,
};

const CITIES: [(&str, &str); 6] = [
    ("BOG-01", "Bogotá"),
    ("MED-01", "Medellín"),
    ("CAL-01", "Cali"),
    ("BAQ-01", "Barranquilla"),
    ("BUC-01", "Bucaramanga"),
    ("PEI-01", "Pereira"),
];
// Names as in Colombia: a first name and two surnames, 64,000 combinations,
// so a full name is shared by a few customers and a surname by one in 20.
const FIRST: [&str; 40] = [
    "Ana",
    "Luis",
    "Carolina",
    "Pedro",
    "Marta",
    "Jorge",
    "Lucía",
    "Andrés",
    "Sofía",
    "Camilo",
    "Valentina",
    "Diego",
    "Isabella",
    "Santiago",
    "Mariana",
    "Sebastián",
    "Gabriela",
    "Mateo",
    "Daniela",
    "Nicolás",
    "Laura",
    "Alejandro",
    "Paula",
    "Juan",
    "Natalia",
    "Felipe",
    "Catalina",
    "Julián",
    "Manuela",
    "David",
    "Juliana",
    "Esteban",
    "Sara",
    "Carlos",
    "Angélica",
    "Óscar",
    "Diana",
    "Hernán",
    "Paola",
    "Ricardo",
];
const LAST: [&str; 40] = [
    "Gómez",
    "Rodríguez",
    "Martínez",
    "López",
    "Díaz",
    "Ruiz",
    "Torres",
    "Ramírez",
    "Vargas",
    "Castro",
    "García",
    "Hernández",
    "Sánchez",
    "Pérez",
    "González",
    "Moreno",
    "Jiménez",
    "Muñoz",
    "Rojas",
    "Romero",
    "Álvarez",
    "Suárez",
    "Ortiz",
    "Mejía",
    "Restrepo",
    "Cárdenas",
    "Osorio",
    "Gutiérrez",
    "Acosta",
    "Salazar",
    "Quintero",
    "Herrera",
    "Cardona",
    "Zapata",
    "Ospina",
    "Giraldo",
    "Valencia",
    "Mendoza",
    "Cortés",
    "Parra",
];
const TYPES: [&str; 3] = ["envelope", "box", "large_box"];
const ZONES: [&str; 2] = ["local", "national"];

const SYSTEM: Actor = Actor {
    user_id: None,
    role: Role::Admin,
    branch_id: None,
};

/// What a seed run made.
#[derive(Debug, Default)]
pub struct Seeded {
    /// Branches created.
    pub branches: usize,
    /// Parcels registered.
    pub parcels: usize,
}

fn customer(i: usize) -> anyhow::Result<NewCustomer> {
    let phone = Phone::parse(&format!(
        "+5730{:08}",
        10_000_000 + (i * 7_919) % 89_999_999
    ))
    .map_err(anyhow::Error::msg)?;
    Ok(NewCustomer {
        phone,
        name: {
            // Spread over the combinations, the same for the same i.
            let h = i.wrapping_mul(2_654_435_761);
            format!(
                "{} {} {}",
                FIRST[h % FIRST.len()],
                LAST[(h / FIRST.len()) % LAST.len()],
                LAST[(h / (FIRST.len() * LAST.len())) % LAST.len()]
            )
        },
        email: i
            .is_multiple_of(3)
            .then(|| format!("cliente{i}@example.com")),
        document: Some(format!("{}", 10_000_000 + i)),
        address: format!("Calle {} # {}-{}", 1 + i % 120, 1 + i % 90, 1 + i % 60),
    })
}

/// Seeds `parcels` parcels (and the branches and tariffs they need).
pub async fn run(store: &Store, parcels: usize) -> anyhow::Result<Seeded> {
    let mut out = Seeded::default();
    let mut branch_ids = Vec::new();
    let existing = store.branches().await?;
    for (code, city) in CITIES {
        if let Some(b) = existing.iter().find(|b| b.code == code) {
            branch_ids.push(b.id);
            continue;
        }
        let b = store
            .create_branch(&NewBranch {
                code: code.to_owned(),
                name: format!("Paquetería {city}"),
                city: city.to_owned(),
                address: "Carrera 7 # 10-20".to_owned(),
                phone: None,
            })
            .await?;
        branch_ids.push(b.id);
        out.branches += 1;
    }
    for (t, ty) in TYPES.iter().enumerate() {
        for (z, zone) in ZONES.iter().enumerate() {
            let probe = store.find_tariff(ty, zone, Grams(1)).await?;
            if probe.is_some() {
                continue;
            }
            let base = 6_000 + 4_000 * i64::try_from(t)? + 5_000 * i64::try_from(z)?;
            store
                .create_tariff(&NewTariff {
                    package_type: (*ty).to_owned(),
                    zone: (*zone).to_owned(),
                    min_grams: Grams(0),
                    max_grams: Grams(50_000),
                    base_price: Money::units(base),
                    per_kg_price: Money::units(1_500 + 500 * i64::try_from(z)?),
                    storage_grace_hours: 72,
                    storage_fee_per_day: Money::units(2_000),
                    cod_fee: Money::units(3_000),
                    valid_from_ms: 0,
                    valid_to_ms: None,
                })
                .await?;
        }
    }
    // PostgreSQL commits many transactions at once: parcels go in eight at
    // a time there. SQLite has one writer, so one at a time is as fast.
    let concurrency = match store.engine() {
        Engine::Postgres => 8,
        Engine::Sqlite => 1,
    };
    let branch_ids = &branch_ids;
    let mut done = futures::stream::iter(0..parcels)
        .map(|i| seed_parcel(store, branch_ids, i))
        .buffer_unordered(concurrency);
    while let Some(result) = done.next().await {
        result?;
        out.parcels += 1;
    }
    drop(done);
    // Fresh statistics: the first searches after a seed are planned on the
    // real table sizes, not on those of an empty store.
    store.analyze().await?;
    Ok(out)
}

/// Registers parcel `i` and moves it to its status.
async fn seed_parcel(store: &Store, branch_ids: &[i64], i: usize) -> anyhow::Result<()> {
    let origin = branch_ids[i % branch_ids.len()];
    let same = i.is_multiple_of(5);
    let destination = if same {
        origin
    } else {
        branch_ids[(i * 7 + 3) % branch_ids.len()]
    };
    let destination = if !same && destination == origin {
        branch_ids[(i + 1) % branch_ids.len()]
    } else {
        destination
    };
    let service = if i.is_multiple_of(2) {
        Service::BranchPickup
    } else {
        Service::HomeDelivery
    };
    let p = NewParcel {
        sender: customer(i * 2)?,
        recipient: customer(i * 2 + 1)?,
        origin_branch_id: origin,
        destination_branch_id: destination,
        service,
        delivery_address: "Avenida 68 # 22-15".to_owned(),
        package_type: TYPES[i % TYPES.len()].to_owned(),
        zone: if same { "local" } else { "national" }.to_owned(),
        weight: Grams(u32::try_from(200 + (i * 377) % 20_000)?),
        dimensions_mm: [300, 200, 150],
        declared_value: Money::units(i64::try_from(20_000 + (i * 1_013) % 500_000)?),
        cod_amount: if i.is_multiple_of(4) {
            Money::units(50_000)
        } else {
            Money::ZERO
        },
    };
    let registered = store.register_parcel(&p, &SYSTEM).await?;
    let handover = Handover::pin(registered.pickup_pin);
    let mut parcel = registered.parcel;
    for event in path(i, same, service) {
        parcel = store
            .apply_event(parcel.id, parcel.version, &event, &SYSTEM, &handover)
            .await?;
    }
    debug_assert!(parcel.status != ParcelStatus::Registered || i.is_multiple_of(9));
    Ok(())
}

/// The events that take parcel `i` to one of every status in turn.
fn path(i: usize, same_branch: bool, service: Service) -> Vec<ParcelEvent> {
    use ParcelEvent as E;
    let mut p = Vec::new();
    let stage = i % 9;
    if stage == 0 {
        return p;
    }
    p.push(E::Receive);
    if stage == 1 {
        return p;
    }
    if stage == 2 {
        p.push(E::Cancel {
            reason: "el remitente desistió".to_owned(),
        });
        return p;
    }
    if !same_branch {
        p.push(E::Dispatch);
        if stage == 3 {
            return p;
        }
    }
    p.push(E::Arrive);
    if stage == 4 {
        return p;
    }
    if stage == 5 {
        p.push(E::Return {
            reason: "no fue reclamado".to_owned(),
        });
        return p;
    }
    match service {
        Service::BranchPickup => p.push(E::Deliver),
        Service::HomeDelivery => {
            p.push(E::OutForDelivery);
            if stage == 6 {
                return p;
            }
            if stage == 7 {
                p.push(E::FailAttempt {
                    reason: "nadie en casa".to_owned(),
                });
                return p;
            }
            p.push(E::Deliver);
        }
    }
    p
}
