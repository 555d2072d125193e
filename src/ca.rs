//! `edgellm ca show`: print the LAN CA certificate and its fingerprint.

use crate::config::CaCommand;
use crate::error::Error;

pub fn run(cmd: CaCommand) -> Result<(), Error> {
    match cmd {
        CaCommand::Show(args) => {
            let dir = edgellm_tls::LanCa::dir_in(&args.resolve()?);
            let ca = edgellm_tls::LanCa::load_or_create(&dir)?;
            let fingerprint = ca.fingerprint()?;
            print!("{}", ca.cert_pem());
            println!("SHA-256 fingerprint: {fingerprint}");
            Ok(())
        }
    }
}
