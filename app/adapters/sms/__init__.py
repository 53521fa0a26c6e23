"""SMS gateways: Africa's Talking for real, the console for development."""
