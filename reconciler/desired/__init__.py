"""The desired state: exoform.yaml (tenants, ``defaults:``, selection), connector files, ``${vars}``,
``kind: Override`` documents and tenant sharding.  Nothing here reads a tenant."""
