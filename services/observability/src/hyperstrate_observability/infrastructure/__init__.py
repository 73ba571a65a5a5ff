"""Tables, repositories, NATS consumers: adapters implementing the ports."""
