"""Who the caller is: WeChat login, real-name binding, access tokens, and whom they may act for."""
